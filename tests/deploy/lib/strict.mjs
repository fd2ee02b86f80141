// SPDX-License-Identifier: Apache-2.0
// Unknown-field check for Kubernetes objects, the part of `kubectl apply --validate=strict`
// that kubernetes-models' .validate() leaves out (the OpenAPI schemas it compiles allow
// extra properties). The field names and types come from the same package's TypeScript
// declarations (kubernetes-models/<group>/<version>/<Kind>.d.ts), which are generated from
// the same OpenAPI document: every interface lists its properties and the interface of each.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ROOT = path.dirname(require.resolve("kubernetes-models/package.json"));
const APIMACHINERY = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));

const cache = new Map();

// Resolves an import specifier of a .d.ts file to a path.
function resolveSpec(fromFile, spec) {
  let p;
  if (spec.startsWith(".")) p = path.resolve(path.dirname(fromFile), spec);
  else if (spec.startsWith("@kubernetes-models/apimachinery/"))
    p = path.join(APIMACHINERY, spec.slice("@kubernetes-models/apimachinery/".length));
  else if (spec.startsWith("kubernetes-models/")) p = path.join(ROOT, spec.slice("kubernetes-models/".length));
  else return null;
  p = p.replace(/\.js$/, "");
  return p + ".d.ts";
}

// The type description of the first `export interface` of a .d.ts file:
// {props: {name: typeText}, imports: {Identifier: file}} or null (an alias such as Quantity).
function loadInterface(file) {
  if (cache.has(file)) return cache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = {};
  for (const m of text.matchAll(/import \{([^}]+)\} from "([^"]+)"/g)) {
    const target = resolveSpec(file, m[2]);
    for (const name of m[1].split(",").map((s) => s.trim()))
      if (target) imports[name.split(" as ").pop().trim()] = target;
  }
  const start = text.search(/export interface \w+[^{]*\{/);
  let result = null;
  if (start >= 0) {
    // The body up to the matching closing brace.
    let i = text.indexOf("{", start) + 1, depth = 1;
    const bodyStart = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") depth--;
    }
    const body = text.slice(bodyStart, i - 1);
    const props = {};
    // Top-level properties: `"name"?: Type;` where Type may span lines inside braces.
    let j = 0;
    while (j < body.length) {
      const m = /"([^"]+)"\??:\s*/y;
      m.lastIndex = j;
      const hit = m.exec(body);
      if (!hit) { j++; continue; }
      let k = m.lastIndex, d = 0;
      for (; k < body.length; k++) {
        const c = body[k];
        if (c === "{" || c === "<" || c === "(") d++;
        else if (c === "}" || c === ">" || c === ")") d--;
        else if (c === ";" && d === 0) break;
      }
      props[hit[1]] = body.slice(m.lastIndex, k).trim();
      j = k + 1;
    }
    result = { props, imports };
  }
  cache.set(file, result);
  return result;
}

// Walks value against typeText (as written in file); pushes "path: message" to errors.
function walk(value, typeText, file, where, errors) {
  if (value === null || value === undefined) return;
  let t = typeText.trim();
  let m;
  if ((m = /^Array<([\s\S]*)>$/.exec(t))) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, m[1], file, `${where}[${i}]`, errors));
    return;
  }
  if ((m = /^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/.exec(t))) {
    if (typeof value === "object" && !Array.isArray(value))
      for (const [k, v] of Object.entries(value)) walk(v, m[1], file, `${where}.${k}`, errors);
    return;
  }
  if (!/^[A-Za-z_]\w*$/.test(t)) return; // literals, unions, primitives: kubernetes-models checks them
  const own = loadInterface(file);
  const target = own && own.imports[t];
  if (!target) return;
  checkObject(value, target, where, errors);
}

function checkObject(value, file, where, errors) {
  const iface = loadInterface(file);
  if (!iface || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!(k in iface.props)) {
      errors.push(`${where}.${k}: unknown field (not in ${path.basename(file, ".d.ts")})`);
      continue;
    }
    walk(v, iface.props[k], file, `${where}.${k}`, errors);
  }
}

// The .d.ts of a model class such as ("apps/v1", "Deployment") or ("v1", "PodSpec").
export function modelFile(groupVersion, kind) {
  return path.join(ROOT, groupVersion, `${kind}.d.ts`);
}

// Unknown fields of obj as the Kubernetes type groupVersion/kind, as "path: message" strings.
export function unknownFields(obj, groupVersion, kind, where = kind) {
  const errors = [];
  const file = modelFile(groupVersion, kind);
  if (!fs.existsSync(file)) return [`${where}: no declarations for ${groupVersion} ${kind}`];
  checkObject(obj, file, where, errors);
  return errors;
}
