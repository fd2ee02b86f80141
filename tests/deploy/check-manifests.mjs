// SPDX-License-Identifier: Apache-2.0
// Step 3 of tests/deploy/run.sh: the Kubernetes and KServe manifests.
//   node check-manifests.mjs [--kubectl-base FILE] [--kubectl-pvc FILE]
//   node check-manifests.mjs --pod-plan     (JSON for the chroot pod simulation of run.sh)
// Every object of deploy/k8s (as built by the kustomize emulation in lib/kustomize.mjs, and by
// `kubectl kustomize` when run.sh passes its output) is validated with kubernetes-models'
// .validate() and the unknown-field check of lib/strict.mjs; the InferenceService with
// lib/kserve.mjs. Then what the issue asks of the deployment: probes, drain timing, CPUs and
// threads, security context, model volume, selectors, settings names. Negative controls show
// each validator rejects a broken copy. Environment: SMOLSERVE_BIN (for `--help`'s variables).
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build, loadDocs, readEnvFile } from "./lib/kustomize.mjs";
import { unknownFields } from "./lib/strict.mjs";
import { validateInferenceService } from "./lib/kserve.mjs";
import { check, fail, skip, exitCode } from "./lib/report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const K8S = path.join(REPO, "deploy/k8s");
const PVC = path.join(REPO, "deploy/k8s-model-pvc");
const KSERVE = path.join(REPO, "deploy/kserve/inferenceservice.yaml");

const args = process.argv.slice(2);
const argValue = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };

// The variables smolserve reads, from its own --help ("(env NAME, default ...)").
function smolserveVariables() {
  const bin = process.env.SMOLSERVE_BIN;
  if (!bin) throw new Error("SMOLSERVE_BIN is not set");
  const help = execFileSync(bin, ["--help"], { encoding: "utf8" });
  const names = [...help.matchAll(/\(env ([A-Z_]+),/g)].map((m) => m[1]);
  if (names.length < 10) throw new Error(`only ${names.length} variables in ${bin} --help`);
  return new Set(names);
}

async function modelClass(apiVersion, kind) {
  const mod = await import(`kubernetes-models/${apiVersion}`);
  if (!mod[kind]) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return mod[kind];
}

// kubernetes-models validation + unknown fields, as a list of problems.
async function validateK8s(obj) {
  const problems = [];
  try {
    const Cls = await modelClass(obj.apiVersion, obj.kind);
    new Cls(obj).validate();
  } catch (e) {
    problems.push(e.message);
  }
  problems.push(...unknownFields(obj, obj.apiVersion, obj.kind));
  return problems;
}

const id = (o) => `${o.kind}/${o.metadata?.name}`;
const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const podSpec = (d) => d.spec.template.spec;

function cpuCount(q) {
  if (q === undefined) return NaN;
  const s = String(q);
  return s.endsWith("m") ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

function probePath(p) { return p?.httpGet?.path; }

// The checks the issue asks of the server container and its pod.
function podPolicy(spec, env, { containerName, modelRoot, portName }) {
  const problems = [];
  const c = spec.containers.find((x) => x.name === containerName);
  if (!c) return [`no container ${containerName}`];
  const port = (c.ports || []).find((p) => p.containerPort === 3000);
  if (!port) problems.push("no containerPort 3000");
  else if (port.name !== portName) problems.push(`port 3000 is named ${port.name}, want ${portName}`);
  const portOk = (p) => p?.httpGet?.port === 3000 || p?.httpGet?.port === port?.name;
  if (probePath(c.readinessProbe) !== "/health" || !portOk(c.readinessProbe)) problems.push("readinessProbe: want GET /health on port 3000");
  if (probePath(c.livenessProbe) !== "/ping" || !portOk(c.livenessProbe)) problems.push("livenessProbe: want GET /ping on port 3000");
  if (probePath(c.startupProbe) !== "/health" || !portOk(c.startupProbe)) problems.push("startupProbe: want GET /health on port 3000");
  const s = c.startupProbe || {};
  const startupBudget = (s.periodSeconds || 10) * (s.failureThreshold || 3);
  if (startupBudget < 60) problems.push(`startupProbe allows only ${startupBudget}s for the model to load`);

  // Drain: grace period > preStop sleep + SHUTDOWN_TIMEOUT_S.
  const pre = c.lifecycle?.preStop?.exec?.command;
  if (!pre || pre[0] !== "sleep" || !(Number(pre[1]) > 0)) problems.push(`preStop: want exec ["sleep", N], got ${JSON.stringify(pre)}`);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  const drain = Number(env.SHUTDOWN_TIMEOUT_S ?? 30);
  if (!(grace > Number(pre?.[1] || 0) + drain))
    problems.push(`terminationGracePeriodSeconds ${grace} <= preStop ${pre?.[1]} + SHUTDOWN_TIMEOUT_S ${drain}`);
  // The listener closes at SIGTERM: liveness must not run out during a drain.
  const l = c.livenessProbe || {};
  const livenessBudget = (l.periodSeconds || 10) * (l.failureThreshold || 3);
  if (!(livenessBudget > drain)) problems.push(`livenessProbe gives up after ${livenessBudget}s, within the ${drain}s drain`);

  // Whole CPUs, Guaranteed, threads = CPUs.
  const req = cpuCount(c.resources?.requests?.cpu), lim = cpuCount(c.resources?.limits?.cpu);
  if (!Number.isInteger(lim) || lim < 1) problems.push(`cpu limit ${c.resources?.limits?.cpu}: want whole CPUs`);
  if (req !== lim) problems.push(`cpu request ${req} != limit ${lim}`);
  if (c.resources?.requests?.memory !== c.resources?.limits?.memory) problems.push("memory request != limit");
  const workers = Number(env.WORKERS), blas = Number(env.BLAS_THREADS);
  if (!(workers >= 1 && blas >= 1)) problems.push(`WORKERS=${env.WORKERS} BLAS_THREADS=${env.BLAS_THREADS}: set both explicitly`);
  else if (workers * blas !== lim) problems.push(`WORKERS x BLAS_THREADS = ${workers * blas}, CPU limit ${lim}`);

  // Security.
  const psc = spec.securityContext || {};
  if (psc.runAsNonRoot !== true) problems.push("pod securityContext.runAsNonRoot is not true");
  const user = c.securityContext?.runAsUser ?? psc.runAsUser;
  if (user !== 10001) problems.push(`${c.name} runs as ${user}, the image's user is 10001`);
  for (const x of [...(spec.initContainers || []), ...spec.containers]) {
    const sc = x.securityContext || {};
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${x.name}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${x.name}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop || []).includes("ALL")) problems.push(`${x.name}: capabilities do not drop ALL`);
    if (sc.runAsNonRoot === false) problems.push(`${x.name}: runAsNonRoot false`);
  }
  // The model.
  if (!String(env.MODEL_ID || "").startsWith(modelRoot + "/") && env.MODEL_ID !== modelRoot)
    problems.push(`MODEL_ID ${env.MODEL_ID} is not under ${modelRoot}`);
  return { problems, container: c };
}

// The environment a container gets from env + envFrom ConfigMaps of objs.
function containerEnv(c, objs) {
  const env = {};
  for (const ef of c.envFrom || []) {
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === ef.configMapRef?.name);
    if (!cm) throw new Error(`${c.name}: envFrom ConfigMap ${ef.configMapRef?.name} is not in the build`);
    Object.assign(env, cm.data);
  }
  for (const e of c.env || []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);
}

// Sorted, comparable form of a list of objects.
const canon = (objs) => JSON.stringify(objs.map((o) => JSON.parse(JSON.stringify(o))).sort((a, b) => id(a).localeCompare(id(b))),
  (k, v) => (v && typeof v === "object" && !Array.isArray(v)) ? Object.fromEntries(Object.keys(v).sort().map((x) => [x, v[x]])) : v);

async function main() {
  if (args.includes("--pod-plan")) {
    const objs = build(K8S);
    const d = byKind(objs, "Deployment")[0];
    const spec = podSpec(d);
    const server = spec.containers[0];
    const init = spec.initContainers[0];
    console.log(JSON.stringify({
      init: { command: [...(init.command || []), ...(init.args || [])], mounts: init.volumeMounts },
      server: {
        env: containerEnv(server, objs), args: server.args || [], command: server.command || null,
        mounts: server.volumeMounts, preStop: server.lifecycle.preStop.exec.command,
        probes: { startup: server.startupProbe.httpGet.path, readiness: server.readinessProbe.httpGet.path, liveness: server.livenessProbe.httpGet.path },
      },
      runAsUser: spec.securityContext.runAsUser, runAsGroup: spec.securityContext.runAsGroup,
    }));
    return;
  }

  let vars;
  await check("smolserve --help lists its variables", () => { vars = smolserveVariables(); });
  const knownVar = (n) => vars?.has(n) || /^OPENBLAS_/.test(n);

  // YAML of every file parses, one object per document.
  const files = [
    ...fs.readdirSync(K8S).filter((f) => f.endsWith(".yaml")).map((f) => path.join(K8S, f)),
    ...fs.readdirSync(PVC).filter((f) => f.endsWith(".yaml")).map((f) => path.join(PVC, f)),
    KSERVE,
  ];
  for (const f of files) await check(`parses: ${path.relative(REPO, f)}`, () => { if (!loadDocs(f).length) return ["no document"]; });

  // The base as files: every resource valid on its own.
  const kustomization = loadDocs(path.join(K8S, "kustomization.yaml"))[0];
  for (const r of kustomization.resources) {
    for (const obj of loadDocs(path.join(K8S, r)))
      await check(`k8s schema: deploy/k8s/${r} ${id(obj)}`, () => validateK8s(obj));
  }

  for (const obj of loadDocs(path.join(PVC, "pvc.yaml")))
    await check(`k8s schema: deploy/k8s-model-pvc/pvc.yaml ${id(obj)}`, () => validateK8s(obj));

  // The kustomize emulation, and kubectl's build when given.
  let objs = [];
  await check("kustomize (emulation) builds deploy/k8s", () => { objs = build(K8S); });
  for (const obj of objs) await check(`k8s schema (built): ${id(obj)}`, () => validateK8s(obj));
  const kubectlBase = argValue("--kubectl-base");
  if (kubectlBase) {
    const kobjs = loadDocs(kubectlBase);
    await check("kubectl kustomize deploy/k8s == emulation (same objects, same ConfigMap hash)", () =>
      canon(kobjs) === canon(objs) ? [] : [`kubectl: ${kobjs.map(id).join(", ")}\nemulation: ${objs.map(id).join(", ")}\n(content differs)`]);
    for (const obj of kobjs) await check(`k8s schema (kubectl build): ${id(obj)}`, () => validateK8s(obj));
  } else skip("kubectl kustomize deploy/k8s", "no kubectl: the emulation's build is what was validated");
  const kubectlPvc = argValue("--kubectl-pvc");
  if (kubectlPvc) {
    for (const obj of loadDocs(kubectlPvc)) await check(`k8s schema (kubectl build of k8s-model-pvc): ${id(obj)}`, () => validateK8s(obj));
  } else skip("deploy/k8s-model-pvc build", "needs kubectl (an overlay with a patch); its files were parsed only");
  for (const obj of loadDocs(path.join(PVC, "model-from-pvc.yaml")))
    await check("k8s-model-pvc patch has only known fields", () => unknownFields(obj, obj.apiVersion, obj.kind));

  // What the deployment must do.
  const d = byKind(objs, "Deployment")[0], svc = byKind(objs, "Service")[0];
  const hpa = byKind(objs, "HorizontalPodAutoscaler")[0], pdb = byKind(objs, "PodDisruptionBudget")[0];
  const cm = byKind(objs, "ConfigMap")[0];
  await check("base has Deployment, Service, HPA autoscaling/v2, PDB, ConfigMap", () => {
    const p = [];
    if (!d || !svc || !hpa || !pdb || !cm) p.push(`got ${objs.map(id).join(", ")}`);
    if (hpa && hpa.apiVersion !== "autoscaling/v2") p.push(`HPA is ${hpa.apiVersion}`);
    return p;
  });
  if (d) {
    const spec = podSpec(d);
    const server = spec.containers[0];
    let env = {};
    await check("server env comes from the generated ConfigMap (envFrom)", () => { env = containerEnv(server, objs); if (!server.envFrom) return ["no envFrom"]; });
    await check("settings.env: every name is a smolserve variable (or OPENBLAS_*)", () =>
      Object.keys(readEnvFile(path.join(K8S, "settings.env"))).filter((n) => !knownVar(n)).map((n) => `${n} is not read by smolserve`));
    await check("Deployment: probes, drain timing, whole CPUs = threads, security, model under /models", () =>
      podPolicy(spec, env, { containerName: "smolserve", modelRoot: "/models", portName: "http" }).problems);
    await check("Deployment: model emptyDir written by the initContainer, read-only in the server at /models", () => {
      const p = [];
      const vol = (spec.volumes || []).find((v) => v.emptyDir);
      if (!vol) return ["no emptyDir volume"];
      const sm = (server.volumeMounts || []).find((m) => m.name === vol.name);
      if (!sm || sm.mountPath !== "/models" || sm.readOnly !== true) p.push("server does not mount it read-only at /models");
      const init = (spec.initContainers || [])[0];
      const im = init && (init.volumeMounts || []).find((m) => m.name === vol.name);
      if (!im || im.readOnly) p.push("initContainer does not mount it writable");
      return p;
    });
    await check("Service selects the pods and targets the http port", () => {
      const p = [];
      if (!labelsMatch(svc.spec.selector, spec && d.spec.template.metadata.labels)) p.push("selector does not match the pod labels");
      for (const port of svc.spec.ports) if (!server.ports.some((cp) => cp.name === port.targetPort || cp.containerPort === port.targetPort)) p.push(`targetPort ${port.targetPort} is not a container port`);
      return p;
    });
    await check("Deployment selector matches its template; PDB selects the pods", () => {
      const p = [];
      if (!labelsMatch(d.spec.selector.matchLabels, d.spec.template.metadata.labels)) p.push("Deployment selector");
      if (!labelsMatch(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)) p.push("PDB selector");
      return p;
    });
    await check("HPA scales the Deployment on CPU, minReplicas >= 2 (the PDB allows one down)", () => {
      const p = [];
      const t = hpa.spec.scaleTargetRef;
      if (t.kind !== "Deployment" || t.name !== d.metadata.name || t.apiVersion !== "apps/v1") p.push(`scaleTargetRef ${JSON.stringify(t)}`);
      if (!hpa.spec.metrics.some((m) => m.type === "Resource" && m.resource.name === "cpu")) p.push("no cpu metric");
      if (!(hpa.spec.minReplicas >= 2)) p.push(`minReplicas ${hpa.spec.minReplicas}`);
      if (!/te_queue_size/.test(fs.readFileSync(path.join(K8S, "hpa.yaml"), "utf8"))) p.push("no te_queue_size example");
      return p;
    });
  }

  // KServe.
  const isvc = loadDocs(KSERVE)[0];
  await check("kserve schema (derived): InferenceService", () => validateInferenceService(isvc));
  await check("kserve: same probes, drain timing, threads, security; model at /mnt/models", () => {
    const spec = isvc.spec.predictor;
    const c = spec.containers[0];
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
    const p = podPolicy(spec, env, { containerName: "kserve-container", modelRoot: "/mnt/models", portName: "http1" }).problems;
    if (!env.STORAGE_URI) p.push("no STORAGE_URI");
    for (const n of Object.keys(env)) if (n !== "STORAGE_URI" && !knownVar(n)) p.push(`${n} is not read by smolserve`);
    return p;
  });

  // Negative controls: each validator rejects a broken copy.
  const copy = (o) => JSON.parse(JSON.stringify(o));
  if (d) {
    const typo = copy(d); podSpec(typo).terminationGracePeriod = 45;
    await check("control: a misspelt field is rejected", async () => (await validateK8s(typo)).length ? [] : ["accepted"]);
    const badType = copy(d); podSpec(badType).containers[0].ports[0].containerPort = "3000";
    await check("control: a wrong type is rejected", async () => (await validateK8s(badType)).length ? [] : ["accepted"]);
    const noImage = copy(d); delete podSpec(noImage).containers[0].name;
    await check("control: a missing required field is rejected", async () => (await validateK8s(noImage)).length ? [] : ["accepted"]);
    const threads = copy(d); podSpec(threads).containers[0].resources.limits.cpu = "4";
    await check("control: threads != CPUs is caught", () => podPolicy(podSpec(threads), containerEnv(podSpec(threads).containers[0], objs), { containerName: "smolserve", modelRoot: "/models", portName: "http" }).problems.length ? [] : ["accepted"]);
  }
  const badIsvc = copy(isvc); badIsvc.spec.predictor.scaleMetric = "gpu"; badIsvc.spec.predictor.containers[0].imagePullPolice = "Always";
  await check("control: kserve validator rejects a bad enum and an unknown container field", () => {
    const e = validateInferenceService(badIsvc);
    return e.some((x) => /scaleMetric/.test(x)) && e.some((x) => /imagePullPolice/.test(x)) ? [] : [`got ${JSON.stringify(e)}`];
  });
}

await main().catch((e) => fail("check-manifests", e.stack || e));
process.exitCode = exitCode();
