// SPDX-License-Identifier: Apache-2.0
// Step 4 of tests/deploy/run.sh: deploy/compose.yaml without a Docker engine.
// The file is validated against the Compose Specification's JSON schema (the copy dclint ships,
// compiled with ajv), then what the schema cannot say: every bind-mounted file and the build
// context exist, the Dockerfile is there, smolserve's environment names are variables it reads,
// its MODEL_ID is where the model is mounted, the drain fits stop_grace_period, and the
// Prometheus it starts scrapes the smolserve service on the port the image exposes.
// dclint's own lint rules run from run.sh (npx dclint). Environment: SMOLSERVE_BIN.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import Ajv from "ajv";
import YAML from "yaml";
import { check, fail, exitCode } from "./lib/report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const DEPLOY = path.join(REPO, "deploy");
const COMPOSE = path.join(DEPLOY, "compose.yaml");
const require = createRequire(import.meta.url);
const SCHEMA = path.join(path.dirname(require.resolve("dclint/package.json")), "schemas/compose.schema.json");

// ${VAR:-default} and ${VAR-default} as Compose interpolates them, with an empty environment.
const interpolate = (s) => String(s).replace(/\$\{(\w+)(:?-)([^}]*)\}/g, (_, v, op, def) => process.env[`COMPOSE_TEST_${v}`] ?? def);

function durationSeconds(s) {
  let total = 0;
  for (const m of String(s).matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms|us)/g))
    total += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 }[m[2]];
  return total;
}

async function main() {
  const text = fs.readFileSync(COMPOSE, "utf8");
  const compose = YAML.parse(text);
  // Draft-07, named by its https address, which ajv does not know by that name.
  const { $schema, ...schema } = JSON.parse(fs.readFileSync(SCHEMA, "utf8"));
  if (!/draft-07/.test($schema)) throw new Error(`${SCHEMA}: expected a draft-07 schema, got ${$schema}`);
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  await check(`compose.yaml is valid against the Compose Specification schema (${path.basename(SCHEMA)} from dclint)`, () =>
    validate(compose) ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  await check("control: the schema rejects an unknown service key and a wrong type", () => {
    const bad = JSON.parse(JSON.stringify(compose));
    bad.services.smolserve.stop_grace = "40s";
    bad.services.smolserve.read_only = "yes please";
    return validate(bad) ? ["accepted"] : [];
  });

  await check("every bind mount source and the build context exist", () => {
    const p = [];
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes || []) {
        const src = typeof v === "string" ? v.split(":")[0] : v.type === "bind" ? v.source : null;
        if (!src || !/^[.\/$]/.test(src)) continue; // named volume
        const abs = path.resolve(DEPLOY, interpolate(src));
        if (!fs.existsSync(abs)) p.push(`${name}: ${src} -> ${abs} does not exist`);
      }
      if (svc.build) {
        const ctx = path.resolve(DEPLOY, svc.build.context || svc.build);
        const df = path.join(ctx, svc.build.dockerfile || "Dockerfile");
        if (!fs.existsSync(df)) p.push(`${name}: ${df} does not exist`);
      }
    }
    return p;
  });

  await check("smolserve service: known variables, MODEL_ID is the model mount, read-only, drain fits stop_grace_period", () => {
    const p = [];
    const s = compose.services.smolserve;
    const help = execFileSync(process.env.SMOLSERVE_BIN, ["--help"], { encoding: "utf8" });
    const vars = new Set([...help.matchAll(/\(env ([A-Z_]+),/g)].map((m) => m[1]));
    const env = Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((e) => e.split("="))) : s.environment || {};
    for (const n of Object.keys(env)) if (!vars.has(n) && !/^OPENBLAS_/.test(n)) p.push(`${n} is not read by smolserve`);
    const targets = (s.volumes || []).map((v) => (typeof v === "string" ? v.split(":")[1] : v.target));
    if (!targets.includes(env.MODEL_ID || "/models/model")) p.push(`MODEL_ID ${env.MODEL_ID} is not a mount target (${targets})`);
    const modelDir = path.resolve(DEPLOY, interpolate((s.volumes || []).find((v) => v.target === env.MODEL_ID)?.source || ""));
    if (!fs.existsSync(path.join(modelDir, "config.json"))) p.push(`default model folder ${modelDir} has no config.json`);
    if (s.read_only !== true) p.push("not read_only");
    if (!(s.cap_drop || []).includes("ALL")) p.push("cap_drop ALL missing");
    const dockerfile = fs.readFileSync(path.join(REPO, "Dockerfile"), "utf8");
    const drain = Number(env.SHUTDOWN_TIMEOUT_S || /SHUTDOWN_TIMEOUT_S=(\d+)/.exec(dockerfile)?.[1] || 30);
    if (!(durationSeconds(s.stop_grace_period || "10s") > drain)) p.push(`stop_grace_period ${s.stop_grace_period} <= SHUTDOWN_TIMEOUT_S ${drain}`);
    for (const port of s.ports || []) if (!String(port).endsWith(":3000")) p.push(`port ${port} does not publish 3000`);
    for (const port of Object.values(compose.services).flatMap((x) => x.ports || []))
      if (!/^127\.0\.0\.1:/.test(String(port))) p.push(`${port} is published on every interface`);
    return p;
  });

  await check("prometheus service scrapes smolserve:3000 with the rules mounted next to its config", () => {
    const p = [];
    const s = compose.services.prometheus;
    const mounts = Object.fromEntries((s.volumes || []).filter((v) => typeof v === "string" && v.startsWith("./")).map((v) => v.split(":").slice(0, 2).reverse()));
    const cfgHost = mounts["/etc/prometheus/prometheus.yml"];
    if (!cfgHost) return ["prometheus.yml not mounted at /etc/prometheus/prometheus.yml"];
    const cfg = YAML.parse(fs.readFileSync(path.resolve(DEPLOY, cfgHost), "utf8"));
    const targets = cfg.scrape_configs.flatMap((j) => (j.static_configs || []).flatMap((c) => c.targets));
    if (!targets.includes("smolserve:3000")) p.push(`targets ${targets}`);
    for (const rf of cfg.rule_files || []) if (!mounts[path.posix.join("/etc/prometheus", rf)]) p.push(`rule file ${rf} is not mounted next to the config`);
    if (!(s.command || []).includes("--config.file=/etc/prometheus/prometheus.yml")) p.push("--config.file");
    return p;
  });
}

await main().catch((e) => fail("check-compose", e.stack || e));
process.exitCode = exitCode();
