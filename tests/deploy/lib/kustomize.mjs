// SPDX-License-Identifier: Apache-2.0
// A small kustomize, enough for deploy/k8s/kustomization.yaml, so the base can be built and
// validated on a machine without kubectl: resources (files), configMapGenerator (envs files
// and literals, with kustomize's name hash and the references to the generated name
// rewritten), labels (pairs, includeTemplates) and images. Any other field is an error, so
// a kustomization that grows beyond this is noticed instead of half-built. When kubectl is
// there, tests/deploy/run.sh compares this output with `kubectl kustomize`.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import YAML from "yaml";

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "configMapGenerator", "labels", "images"]);
const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

export function loadDocs(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((d) => d != null);
}

// Go's json.Marshal of map[string]interface{}: keys sorted, <, >, & escaped.
function goJSON(v) {
  const sort = (x) => (x && typeof x === "object" && !Array.isArray(x))
    ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])])) : x;
  return JSON.stringify(sort(v)).replace(/</g, "\\u003c").replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

// kustomize's api/hasher: sha256 of {"data","kind","name"} (its lookup of "metadata/name"
// finds nothing, so name is ""), first 10 hex digits with 0 1 3 a e mapped to g h k m t.
export function configMapHash(data) {
  const hex = crypto.createHash("sha256").update(goJSON({ kind: "ConfigMap", name: "", data })).digest("hex");
  return hex.slice(0, 10).replace(/[013ae]/g, (c) => ({ 0: "g", 1: "h", 3: "k", a: "m", e: "t" })[c]);
}

// kustomize's env file reader: KEY=VALUE lines, # comments and blank lines skipped.
export function readEnvFile(file) {
  const data = {};
  fs.readFileSync(file, "utf8").split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trimStart();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`${file}:${i + 1}: expected KEY=VALUE`);
    data[line.slice(0, eq)] = line.slice(eq + 1);
  });
  return data;
}

function podSpecOf(obj) {
  if (obj.kind === "Pod") return obj.spec;
  if (WORKLOADS.has(obj.kind)) return obj.spec?.template?.spec;
  if (obj.kind === "CronJob") return obj.spec?.jobTemplate?.spec?.template?.spec;
  return undefined;
}

function containersOf(spec) {
  return [...(spec?.initContainers || []), ...(spec?.containers || [])];
}

function renameConfigMapRefs(spec, from, to) {
  if (!spec) return;
  for (const c of containersOf(spec)) {
    for (const ef of c.envFrom || []) if (ef.configMapRef?.name === from) ef.configMapRef.name = to;
    for (const e of c.env || []) {
      const r = e.valueFrom?.configMapKeyRef;
      if (r?.name === from) r.name = to;
    }
  }
  for (const v of spec.volumes || []) {
    if (v.configMap?.name === from) v.configMap.name = to;
    for (const s of v.projected?.sources || []) if (s.configMap?.name === from) s.configMap.name = to;
  }
}

function splitImage(image) {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

// Builds the kustomization in dir; returns the list of objects (kustomize's order is not kept).
export function build(dir) {
  const k = loadDocs(path.join(dir, "kustomization.yaml"))[0];
  for (const key of Object.keys(k))
    if (!SUPPORTED.has(key)) throw new Error(`kustomization.yaml: field "${key}" is not handled by this emulation`);
  const objects = [];
  for (const r of k.resources || []) {
    const file = path.join(dir, r);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile())
      throw new Error(`kustomization.yaml: resource ${r} is not a file here (directories/remote bases need kubectl)`);
    objects.push(...loadDocs(file));
  }
  const renames = [];
  for (const g of k.configMapGenerator || []) {
    const data = {};
    for (const e of g.envs || []) Object.assign(data, readEnvFile(path.join(dir, e)));
    for (const lit of g.literals || []) {
      const eq = lit.indexOf("=");
      data[lit.slice(0, eq)] = lit.slice(eq + 1);
    }
    for (const key of Object.keys(g))
      if (!["name", "envs", "literals"].includes(key)) throw new Error(`configMapGenerator.${key} is not handled`);
    const name = `${g.name}-${configMapHash(data)}`;
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data });
    renames.push([g.name, name]);
  }
  for (const obj of objects) for (const [from, to] of renames) renameConfigMapRefs(podSpecOf(obj), from, to);
  for (const l of k.labels || []) {
    if (l.includeSelectors) throw new Error("labels.includeSelectors is not handled");
    for (const obj of objects) {
      obj.metadata = obj.metadata || {};
      obj.metadata.labels = { ...(obj.metadata.labels || {}), ...l.pairs };
      if (l.includeTemplates && WORKLOADS.has(obj.kind) && obj.spec?.template) {
        const t = obj.spec.template;
        t.metadata = t.metadata || {};
        t.metadata.labels = { ...(t.metadata.labels || {}), ...l.pairs };
      }
    }
  }
  for (const img of k.images || []) {
    for (const obj of objects) {
      for (const c of containersOf(podSpecOf(obj))) {
        if (!c.image || splitImage(c.image) !== img.name) continue;
        const base = img.newName || img.name;
        c.image = img.digest ? `${base}@${img.digest}` : img.newTag ? `${base}:${img.newTag}` : base;
      }
    }
  }
  return objects;
}
