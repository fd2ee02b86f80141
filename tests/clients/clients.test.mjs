// SPDX-License-Identifier: Apache-2.0
// The clients TEI users already have, against a real smolserve (started here on 127.0.0.1,
// port 0): Hugging Face's @huggingface/inference (featureExtraction, sentenceSimilarity,
// textClassification with endpointUrl) and OpenAI's `openai` (float and base64), each with an
// API key set and without. Then the OpenAPI document at /api-doc/openapi.json through a real
// validator (@apidevtools/swagger-parser), and its routes against the server's answers and the
// README's API table. Run by tests/clients/run.sh (node's test runner).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { featureExtraction, sentenceSimilarity, textClassification } from "@huggingface/inference";
import OpenAI from "openai";
import SwaggerParser from "@apidevtools/swagger-parser";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.SMOLSERVE_BIN || path.join(REPO, "build/server/smolserve");
const FIXTURES = path.join(REPO, "tests/fixtures");
const KEY = "client-test-key";
const servers = [];

// Starts `smolserve serve` on a fixture; resolves {port, base, proc} once it listens.
function start(fixture, args = [], env = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ["serve", "--model", path.join(FIXTURES, fixture), "--hostname", "127.0.0.1",
      "--port", "0", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    servers.push(proc);
    let log = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" within 10 s:\n${log}`)), 10000);
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /listening on http:\/\/[^ "]*:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ port: +m[1], base: `http://127.0.0.1:${m[1]}`, proc });
      }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${log}`)); });
  });
}

after(async () => {
  for (const p of servers) {
    if (p.exitCode !== null) continue;
    const done = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await Promise.race([done, new Promise((r) => setTimeout(r, 10000))]);
    if (p.exitCode === null) p.kill("SIGKILL");
  }
});

const post = async (base, route, body, headers = {}) => {
  const r = await fetch(base + route, { method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers } });
  return { status: r.status, json: await r.json().catch(() => null) };
};
const close = (a, b, tol = 1e-5) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= tol);

// Each client case runs without a key and with one (server started with --api-key).
for (const keyed of [false, true]) {
  const args = keyed ? ["--api-key", KEY] : [];
  const auth = keyed ? { Authorization: `Bearer ${KEY}` } : {};
  const token = keyed ? { accessToken: KEY } : {};
  const tag = keyed ? "with an API key" : "without an API key";

  test(`@huggingface/inference featureExtraction, ${tag}`, async () => {
    const s = await start("bert", args);
    const want = (await post(s.base, "/embed", { inputs: "Hello, world!" }, auth)).json;
    const got = await featureExtraction({ endpointUrl: s.base, inputs: "Hello, world!", ...token });
    assert.ok(close(got[0], want[0]), "featureExtraction differs from /embed");
    const batch = await featureExtraction({ endpointUrl: s.base, inputs: ["a b", "c"], normalize: false, ...token });
    assert.equal(batch.length, 2);
    if (keyed) await assert.rejects(featureExtraction({ endpointUrl: s.base, inputs: "x" }), /401|Unauthorized/i);
  });

  test(`@huggingface/inference sentenceSimilarity, ${tag}`, async () => {
    // TEI's TASK=sentence-similarity makes POST / compare; /similarity always does
    const s = await start("bert", args, { TASK: "sentence-similarity" });
    const inputs = { source_sentence: "hello world", sentences: ["hello world", "the lazy dog"] };
    for (const url of [s.base, s.base + "/similarity"]) {
      const got = await sentenceSimilarity({ endpointUrl: url, inputs, ...token });
      assert.equal(got.length, 2);
      assert.ok(Math.abs(got[0] - 1) < 1e-5, `identical sentences: ${got[0]}`);
      assert.ok(got[1] < got[0]);
    }
  });

  test(`@huggingface/inference textClassification, ${tag}`, async () => {
    const s = await start("bert-seqcls", args);
    const got = await textClassification({ endpointUrl: s.base, inputs: "I like you.", ...token });
    const want = (await post(s.base, "/predict", { inputs: "I like you." }, auth)).json;
    assert.deepEqual(got.map((x) => x.label), want.map((x) => x.label));
    assert.ok(close(got.map((x) => x.score), want.map((x) => x.score)));
    assert.ok(Math.abs(got.reduce((a, x) => a + x.score, 0) - 1) < 1e-5, "softmax sums to 1");
  });

  test(`openai embeddings.create, float and base64, ${tag}`, async () => {
    const s = await start("bert", [...args, "--served-model-name", "tiny-bert"]);
    const client = new OpenAI({ baseURL: s.base + "/v1", apiKey: keyed ? KEY : "unused", maxRetries: 0 });
    const input = ["hello world", "the quick brown fox"];
    const want = (await post(s.base, "/embed", { inputs: input }, auth)).json;
    const f = await client.embeddings.create({ model: "anything", input, encoding_format: "float" });
    const b = await client.embeddings.create({ model: "anything", input, encoding_format: "base64" });
    const d = await client.embeddings.create({ model: "anything", input: "hello world", dimensions: 8 });
    for (const r of [f, b]) {
      assert.equal(r.model, "tiny-bert");
      assert.equal(r.data.length, 2);
      assert.ok(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens);
    }
    for (let i = 0; i < 2; i++) {
      assert.ok(close(f.data[i].embedding, want[i]), "float");
      const e = b.data[i].embedding;
      // little-endian float32s; the client decodes them itself only when it chose base64
      const floats = (buf) => Array.from({ length: buf.length / 4 }, (_, k) => buf.readFloatLE(4 * k));
      const v = typeof e === "string" ? floats(Buffer.from(e, "base64")) : e;
      assert.ok(close(v, want[i]), "base64");
    }
    assert.equal(d.data[0].embedding.length, 8);
    if (keyed) {
      const anon = new OpenAI({ baseURL: s.base + "/v1", apiKey: "wrong", maxRetries: 0 });
      await assert.rejects(anon.embeddings.create({ model: "m", input: "x" }), (e) => e.status === 401);
    }
    // errors come back in OpenAI's shape, which the client reads
    await assert.rejects(client.embeddings.create({ model: "m", input: "" }),
      (e) => e.status === 400 && /cannot be empty/.test(e.message));
  });
}

test("the OpenAPI document validates and lists exactly the routes the server answers", async () => {
  const s = await start("bert", ["--api-key", KEY]);
  const raw = await (await fetch(s.base + "/api-doc/openapi.json")).json(); // open without a key
  const doc = await SwaggerParser.validate(structuredClone(raw));
  assert.match(doc.openapi, /^3\./);
  const listed = [];
  for (const [p, item] of Object.entries(raw.paths))
    for (const m of Object.keys(item)) listed.push(`${m.toUpperCase()} ${p}`);
  // every listed operation is answered (not 404 or 405), with the key
  for (const op of listed) {
    const [method, p] = op.split(" ");
    const r = await fetch(s.base + p, { method, headers: { Authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: method === "POST" ? "{}" : undefined });
    assert.ok(r.status !== 404 && r.status !== 405, `${op}: ${r.status}`);
  }
  // every route of the README's API table is in the document, and the other way round
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  const table = new Set();
  for (const m of readme.matchAll(/^\| `((?:GET|POST) [^`]+)`(?:, `([^`]+)`)*/gm)) {
    const [method] = m[1].split(" ");
    for (const part of m[0].matchAll(/`([^`]+)`/g)) {
      const t = part[1].includes(" ") ? part[1] : `${method} ${part[1]}`;
      table.add(t);
    }
  }
  assert.deepEqual([...table].sort(), [...listed].sort(), "README API table vs OpenAPI paths");
  // an unknown path is 404, a listed path with another method 405
  assert.equal((await fetch(s.base + "/nope")).status, 404);
  assert.equal((await fetch(s.base + "/embed", { headers: { Authorization: `Bearer ${KEY}` } })).status, 405);
  // /docs renders it from the same server, with nothing fetched elsewhere
  const html = await (await fetch(s.base + "/docs")).text();
  assert.match(html, /api-doc\/openapi\.json/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="?https?:/i);
});
