#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// onnxruntime peer for bench_core: the same folders, token ids and workloads, run by
// onnxruntime-node (npm, installed into bench/node_modules by bench/run_all.sh) on the
// model.onnx that bench/ort_export.py exported from the same model.safetensors.
//
// Sessions use the CPU execution provider with graph optimisation "all", sequential
// execution, intraOpNumThreads = --threads (default 2) and interOpNumThreads 1, as a user
// running onnxruntime on a 2-core machine would. Batches are padded to their longest
// sequence with an attention mask (as torch_peer.py does); tokens/s counts real tokens.
//
// Before timing a shape it runs bench_core's check batch and compares onnxruntime's
// last_hidden_state with the one smolserve wrote in workloads/<shape>.json (tolerance
// 1e-4): a peer that computes a different function is not a peer.
//
// usage: node bench/ort_peer.mjs [--dir DIR] [--shapes a,b] [--threads N] [--seconds S]
//                                [--min-iters N] [--json]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ort = require("onnxruntime-node");
const CHECK_TOL = 1e-4;

function parseArgs(argv) {
  const o = {
    dir: process.env.BENCH_DIR || "bench/out",
    shapes: "minilm-l6,distilbert-base,bert-base,albert-base,mobilebert",
    threads: 2,
    seconds: 1,
    minIters: 3,
    json: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--json") o.json = true;
    else if (a === "--dir") (o.dir = v), i++;
    else if (a === "--shapes") (o.shapes = v), i++;
    else if (a === "--threads") (o.threads = Number(v)), i++;
    else if (a === "--seconds") (o.seconds = Number(v)), i++;
    else if (a === "--min-iters") (o.minIters = Number(v)), i++;
    else {
      console.error(`ort_peer: unknown argument ${a}`);
      process.exit(2);
    }
  }
  return o;
}

// Packed {lengths, ids} -> padded int64 input_ids and attention_mask tensors.
function padded(w) {
  const n = Math.max(...w.lengths), b = w.lengths.length;
  const ids = new BigInt64Array(b * n), mask = new BigInt64Array(b * n);
  let at = 0;
  w.lengths.forEach((len, s) => {
    for (let t = 0; t < len; t++) {
      ids[s * n + t] = BigInt(w.ids[at + t]);
      mask[s * n + t] = 1n;
    }
    at += len;
  });
  return {
    feeds: {
      input_ids: new ort.Tensor("int64", ids, [b, n]),
      attention_mask: new ort.Tensor("int64", mask, [b, n]),
    },
    n,
    b,
  };
}

function rssMiB() {
  const s = fs.readFileSync("/proc/self/status", "utf8");
  const get = (k) => Number((s.match(new RegExp(`${k}:\\s+(\\d+)`)) || [0, 0])[1]) / 1024;
  return { rss: get("VmRSS"), hwm: get("VmHWM") };
}

async function checkShape(session, wl) {
  const c = wl.check, h = wl.hidden;
  const { feeds, n } = padded(c);
  const out = (await session.run(feeds)).last_hidden_state.data;
  let worst = 0, at = 0;
  c.lengths.forEach((len, s) => {
    for (let t = 0; t < len; t++)
      for (let i = 0; i < h; i++) {
        const d = Math.abs(out[(s * n + t) * h + i] - c.last_hidden_state[(at + t) * h + i]);
        if (d > worst) worst = d;
      }
    at += len;
  });
  return worst;
}

async function timeWorkload(session, w, o) {
  const { feeds, n, b } = padded(w);
  await session.run(feeds); // warm-up
  const times = [];
  const start = performance.now();
  while (times.length < o.minIters || performance.now() - start < o.seconds * 1e3) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const m = times.length;
  const median = m % 2 ? times[(m - 1) / 2] : 0.5 * (times[m / 2 - 1] + times[m / 2]);
  const real = w.lengths.reduce((x, y) => x + y, 0);
  return {
    workload: w.name,
    n_seqs: b,
    n_tokens: real,
    n_padded: b * n,
    iters: m,
    median_ms: median,
    min_ms: times[0],
    max_ms: times[m - 1],
    tokens_per_s: real / (median / 1e3),
  };
}

async function main() {
  const o = parseArgs(process.argv);
  const results = [], checks = {}, memory = {};
  let failed = false;
  console.log(
    `onnxruntime-node ${ort.env.versions?.common ?? "?"}: CPU provider, ${o.threads} ` +
      `intra-op threads, 1 inter-op thread, graph optimisation all`,
  );
  for (const shape of o.shapes.split(",").filter(Boolean)) {
    const wl = JSON.parse(fs.readFileSync(path.join(o.dir, "workloads", `${shape}.json`)));
    const model = path.join(o.dir, shape, "model.onnx");
    if (!fs.existsSync(model)) {
      console.log(`${shape}: no model.onnx (bench/ort_export.py could not export it): skipped`);
      continue;
    }
    const before = rssMiB();
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
    });
    const loadMs = performance.now() - t0;
    const worst = await checkShape(session, wl);
    const afterLoad = rssMiB();
    const ok = worst <= CHECK_TOL;
    failed ||= !ok;
    checks[shape] = worst;
    console.log(
      `check ${shape}: vs smolserve, max |diff| ${worst.toExponential(2)} ` +
        `(${ok ? "ok" : "FAIL"}, tolerance ${CHECK_TOL}); session ${loadMs.toFixed(0)} ms`,
    );
    for (const w of wl.workloads) {
      const r = await timeWorkload(session, w, o);
      r.shape = shape;
      results.push(r);
      console.log(
        `${shape.padEnd(16)} ${w.name.padEnd(16)} ${String(r.n_tokens).padStart(6)} tokens ` +
          `(${r.n_padded} padded) median ${r.median_ms.toFixed(2).padStart(9)} ms ` +
          `${r.tokens_per_s.toFixed(0).padStart(8)} tokens/s (${r.iters} runs)`,
      );
    }
    const end = rssMiB();
    memory[shape] = {
      load_ms: loadMs,
      rss_before_mib: before.rss,
      rss_after_load_mib: afterLoad.rss,
      rss_end_mib: end.rss,
      peak_mib: end.hwm,
    };
    await session.release?.();
  }
  if (o.json)
    console.log(
      JSON.stringify({
        tool: "ort_peer",
        onnxruntime: ort.env.versions?.common ?? null,
        threads: o.threads,
        openblas_coretype_env: process.env.OPENBLAS_CORETYPE ?? null,
        checks,
        checks_ok: !failed,
        memory,
        results,
      }),
    );
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`ort_peer: ${e.stack || e}`);
  process.exit(1);
});
