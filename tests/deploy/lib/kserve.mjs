// SPDX-License-Identifier: Apache-2.0
// Validation of a KServe InferenceService (serving.kserve.io/v1beta1) without KServe's CRD:
// no npm package ships KServe models, so the schema is derived here from KServe's API types.
// A PredictorSpec is a core/v1 PodSpec inlined with KServe's ComponentExtensionSpec and the
// predictor framework fields: the extension fields are checked against the JSON schema below
// (types, enums, ranges; unknown fields refused), and everything else is validated as a PodSpec
// with kubernetes-models (inside a Pod, with the object's metadata) plus the unknown-field
// check. The custom-container rules KServe and Knative apply are checked on top.
import Ajv from "ajv";
import { Pod } from "kubernetes-models/v1";
import { unknownFields } from "./strict.mjs";

const stringMap = { type: "object", additionalProperties: { type: "string" } };
const int = (min, max) => ({ type: "integer", ...(min !== undefined && { minimum: min }), ...(max !== undefined && { maximum: max }) });
const object = { type: "object" };

// ComponentExtensionSpec (pkg/apis/serving/v1beta1/component.go) and the predictor's
// framework specs (predictor.go); the framework specs are other runtimes, only their type here.
export const EXTENSION_SCHEMA = {
  type: "object",
  properties: {
    minReplicas: int(0),
    maxReplicas: int(0),
    scaleTarget: int(1),
    scaleMetric: { type: "string", enum: ["cpu", "memory", "concurrency", "rps"] },
    scaleMetricType: { type: "string", enum: ["Utilization", "AverageValue"] },
    containerConcurrency: int(0),
    timeout: int(1),
    canaryTrafficPercent: int(0, 100),
    labels: stringMap,
    annotations: stringMap,
    logger: object,
    batcher: object,
    deploymentStrategy: object,
    autoScaling: object,
    workerSpec: object,
    storageUri: { type: "string" },
    protocolVersion: { type: "string", enum: ["v1", "v2", "grpc-v1", "grpc-v2"] },
    model: object, sklearn: object, xgboost: object, tensorflow: object, pytorch: object,
    triton: object, onnx: object, huggingface: object, pmml: object, lightgbm: object, paddle: object,
  },
};
const EXTENSION_KEYS = new Set(Object.keys(EXTENSION_SCHEMA.properties));
const FRAMEWORKS = ["model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
  "huggingface", "pmml", "lightgbm", "paddle"];

const ajv = new Ajv({ allErrors: true, strict: true });
const validateExtension = ajv.compile(EXTENSION_SCHEMA);

// Problems of an InferenceService object, as strings (empty: valid).
export function validateInferenceService(obj) {
  const errors = [];
  if (obj.apiVersion !== "serving.kserve.io/v1beta1") errors.push(`apiVersion ${obj.apiVersion}: want serving.kserve.io/v1beta1`);
  if (obj.kind !== "InferenceService") errors.push(`kind ${obj.kind}: want InferenceService`);
  for (const k of Object.keys(obj)) if (!["apiVersion", "kind", "metadata", "spec"].includes(k)) errors.push(`${k}: unknown field`);
  for (const k of Object.keys(obj.spec || {})) if (!["predictor", "transformer", "explainer"].includes(k)) errors.push(`spec.${k}: unknown field`);
  const p = obj.spec?.predictor;
  if (!p || typeof p !== "object") return [...errors, "spec.predictor: required"];

  const ext = {}, podSpec = {};
  for (const [k, v] of Object.entries(p)) (EXTENSION_KEYS.has(k) ? ext : podSpec)[k] = v;
  if (!validateExtension(ext))
    for (const e of validateExtension.errors) errors.push(`spec.predictor${e.instancePath.replace(/\//g, ".")}: ${e.message}`);
  if (ext.minReplicas !== undefined && ext.maxReplicas !== undefined && ext.maxReplicas < ext.minReplicas)
    errors.push("spec.predictor.maxReplicas < minReplicas");

  const custom = !FRAMEWORKS.some((f) => f in p);
  if (custom && !(podSpec.containers || []).length) errors.push("spec.predictor.containers: a custom predictor needs a container");
  const pod = { apiVersion: "v1", kind: "Pod", metadata: obj.metadata, spec: podSpec };
  try {
    new Pod(pod).validate();
  } catch (e) {
    errors.push(`spec.predictor (as a PodSpec): ${e.message}`);
  }
  for (const u of unknownFields(pod, "v1", "Pod", "InferenceService")) errors.push(u.replace("InferenceService.spec.", "spec.predictor."));

  if (custom) {
    const c = podSpec.containers?.[0];
    if (c && c.name !== "kserve-container") errors.push(`container ${c.name}: KServe's model container is named kserve-container`);
    const ports = c?.ports || [];
    if (ports.length > 1) errors.push("kserve-container: Knative and KServe serve one port");
    for (const port of ports)
      if (!["http1", "h2c"].includes(port.name)) errors.push(`port ${port.name}: name it http1 (HTTP/1.1) or h2c (HTTP/2)`);
  }
  return errors;
}
