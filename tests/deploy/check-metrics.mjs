// SPDX-License-Identifier: Apache-2.0
// Step 2 of tests/deploy/run.sh: the dashboard and the alerting rules against a real smolserve
// and a real Prometheus scraping it.
//   node check-metrics.mjs --metrics FILE --prom http://127.0.0.1:PORT
// FILE is smolserve's GET /metrics text (after some requests). Every metric name used in the
// dashboard and the rules must be a series smolserve exports (histograms by their _bucket,
// _sum, _count series: a bare histogram name is no series), every label value they match on
// must occur, every dashboard query must return data from Prometheus and every rule
// expression must evaluate. The dashboard's structure and the Grafana provisioning files are
// checked too (no Grafana server is available here to load them).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { check, fail, exitCode } from "./lib/report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const DASHBOARD = path.join(REPO, "deploy/grafana/dashboards/smolserve.json");
const RULES = path.join(REPO, "deploy/prometheus/smolserve-rules.yml");
const args = process.argv.slice(2);
const arg = (f) => { const i = args.indexOf(f); return i >= 0 ? args[i + 1] : undefined; };

// {name: [{label: value}]} of a Prometheus text exposition.
function parseExposition(text) {
  const series = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+\S+/.exec(line);
    if (!m) throw new Error(`unparsable /metrics line: ${line}`);
    const labels = {};
    for (const l of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    (series[m[1]] = series[m[1]] || []).push(labels);
  }
  return series;
}

const TARGET_LABELS = new Set(["job", "instance", "namespace", "pod", "le"]);
const NAME_RE = /\b((?:te|smolserve)_[a-z_]+)\b/g;

// Problems of one PromQL expression against the exported series.
function namesAndLabels(expr, series, where) {
  const problems = [];
  // label names in by (...) / without (...) and in {...} matchers are not series names
  const names = expr.replace(/\b(?:by|without)\s*\([^)]*\)/g, "").replace(/\{[^}]*\}/g, "");
  for (const m of names.matchAll(NAME_RE)) if (!series[m[1]]) problems.push(`${where}: ${m[1]} is not a series smolserve exports`);
  for (const m of expr.matchAll(/\b((?:te|smolserve)_[a-z_]+)\{([^}]*)\}/g)) {
    const samples = series[m[1]] || [];
    for (const lm of m[2].matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      const [, label, op, value] = lm;
      if (TARGET_LABELS.has(label) || value.includes("$")) continue;
      const values = samples.map((s) => s[label]).filter((v) => v !== undefined);
      if (!values.length) { problems.push(`${where}: ${m[1]} has no label ${label}`); continue; }
      if (op === "=" && !values.includes(value)) problems.push(`${where}: ${m[1]}{${label}="${value}"} matches no exported series (has ${[...new Set(values)].join(", ")})`);
      if (op === "=~" && !values.some((v) => new RegExp(`^(?:${value})$`).test(v))) problems.push(`${where}: ${m[1]}{${label}=~"${value}"} matches nothing`);
    }
  }
  return problems;
}

function dashboardTargets(d) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels || []) {
      for (const t of p.targets || []) out.push({ panel: p.title, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

// Grafana's variables and intervals, as the test data allow.
const grafanaToProm = (expr) => expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "30s")
  .replace(/=~"\$\w+"/g, '=~".*"').replace(/="\$\w+"/g, '=~".*"');

async function query(prom, expr) {
  const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await r.json();
  if (body.status !== "success") throw new Error(`${body.errorType}: ${body.error}`);
  return body.data.result;
}

async function main() {
  const series = parseExposition(fs.readFileSync(arg("--metrics"), "utf8"));
  const prom = arg("--prom");
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
  const rules = YAML.parse(fs.readFileSync(RULES, "utf8"));
  const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ name: r.alert || r.record, expr: r.expr })));
  const targets = dashboardTargets(dash);
  const templ = dash.templating.list.filter((v) => v.type === "query").map((v) => ({ name: v.name, q: v.query.query || v.query }));

  await check(`/metrics exports the names the README lists (${Object.keys(series).length} series names)`, () =>
    ["te_request_count", "te_request_success", "te_request_failure", "te_queue_size", "te_request_duration_bucket",
      "te_batch_next_size_bucket", "te_batch_next_tokens_bucket", "smolserve_queue_tokens", "smolserve_max_batch_tokens",
      "smolserve_worker_busy_seconds_total", "smolserve_workers", "smolserve_blas_threads"].filter((n) => !series[n]).map((n) => `${n} missing`));
  await check(`dashboard: every metric name and label value of its ${targets.length} queries and ${templ.length} variables is exported`, () =>
    [...targets.flatMap((t) => namesAndLabels(t.expr, series, `panel "${t.panel}"`)), ...templ.flatMap((v) => namesAndLabels(v.q, series, `variable ${v.name}`))]);
  await check(`rules: every metric name and label value of the ${ruleExprs.length} rules is exported`, () =>
    ruleExprs.flatMap((r) => namesAndLabels(r.expr, series, r.name)));
  await check("control: an unexported name and a wrong label value are caught", () => {
    const p = namesAndLabels('rate(te_request_duration[5m]) + te_request_failure{err="overload"}', series, "x");
    return p.length === 2 ? [] : [`got ${JSON.stringify(p)}`];
  });

  await check("dashboard structure: unique ids, 24-column grid, Prometheus data source variable, every target has expr", () => {
    const p = [];
    const ids = new Set();
    const walk = (panels) => {
      for (const x of panels || []) {
        if (ids.has(x.id)) p.push(`duplicate panel id ${x.id}`);
        ids.add(x.id);
        const g = x.gridPos;
        if (!g || g.x + g.w > 24 || g.w < 1 || g.h < 1) p.push(`panel ${x.title}: gridPos ${JSON.stringify(g)}`);
        if (x.type !== "row" && !(x.targets || []).length) p.push(`panel ${x.title}: no targets`);
        for (const t of x.targets || []) {
          if (!t.expr) p.push(`panel ${x.title}: target without expr`);
          if (t.datasource?.uid !== "${datasource}") p.push(`panel ${x.title}: datasource ${JSON.stringify(t.datasource)}`);
        }
        walk(x.panels);
      }
    };
    walk(dash.panels);
    const dsVar = dash.templating.list.find((v) => v.type === "datasource");
    if (!dsVar || dsVar.query !== "prometheus" || dsVar.name !== "datasource") p.push("no datasource variable of type prometheus");
    if (!dash.uid || !dash.title || !(dash.schemaVersion >= 30)) p.push("uid/title/schemaVersion");
    const want = ["te_request_count", "te_request_failure", "te_request_duration_bucket", "te_batch_next_size_bucket",
      "te_batch_next_tokens_bucket", "te_queue_size", "smolserve_queue_tokens", "smolserve_worker_busy_seconds_total"];
    const all = targets.map((t) => t.expr).join("\n");
    for (const w of want) if (!all.includes(w)) p.push(`no panel uses ${w}`);
    return p;
  });

  await check("Grafana provisioning: datasource and dashboard provider match compose.yaml's services and mounts", () => {
    const p = [];
    const dsFile = YAML.parse(fs.readFileSync(path.join(REPO, "deploy/grafana/provisioning/datasources/prometheus.yml"), "utf8"));
    const provFile = YAML.parse(fs.readFileSync(path.join(REPO, "deploy/grafana/provisioning/dashboards/smolserve.yml"), "utf8"));
    const compose = YAML.parse(fs.readFileSync(path.join(REPO, "deploy/compose.yaml"), "utf8"));
    if (dsFile.apiVersion !== 1 || provFile.apiVersion !== 1) p.push("apiVersion must be 1");
    const ds = dsFile.datasources?.[0];
    if (ds?.type !== "prometheus") p.push(`datasource type ${ds?.type}`);
    const u = new URL(ds?.url);
    if (!compose.services[u.hostname]) p.push(`datasource host ${u.hostname} is no compose service`);
    const promPort = (compose.services.prometheus?.ports || []).map((x) => String(x).split(":").pop());
    if (!promPort.includes(u.port)) p.push(`datasource port ${u.port} is not Prometheus' port ${promPort}`);
    const prov = provFile.providers?.[0];
    const gMounts = (compose.services.grafana?.volumes || []).map((v) => String(v).split(":"));
    const dashMount = gMounts.find((m) => m[1] === prov?.options?.path);
    if (!dashMount) p.push(`provider path ${prov?.options?.path} is not mounted in the grafana service`);
    else if (!fs.existsSync(path.join(REPO, "deploy", dashMount[0], path.basename(DASHBOARD)))) p.push(`${dashMount[0]} does not hold the dashboard`);
    if (!gMounts.some((m) => m[1] === "/etc/grafana/provisioning" && fs.existsSync(path.join(REPO, "deploy", m[0], "datasources")))) p.push("provisioning folder not mounted");
    return p;
  });

  if (!prom) return;
  await check("Prometheus: label_values(te_request_count, job) (the dashboard's job variable) has smolserve", async () => {
    const r = await (await fetch(`${prom}/api/v1/label/job/values?match[]=te_request_count`)).json();
    return r.data?.includes("smolserve") ? [] : [`got ${JSON.stringify(r)}`];
  });
  for (const t of targets) {
    await check(`Prometheus answers dashboard panel "${t.panel}": ${t.expr.slice(0, 60)}...`, async () => {
      const res = await query(prom, grafanaToProm(t.expr));
      return res.length ? [] : ["no data"];
    });
  }
  for (const r of ruleExprs) await check(`Prometheus evaluates rule ${r.name}`, async () => { await query(prom, r.expr); });
}

await main().catch((e) => fail("check-metrics", e.stack || e));
process.exitCode = exitCode();
