// SPDX-License-Identifier: Apache-2.0
// The Dockerfile without Docker (step 1 of tests/deploy/run.sh).
//   node check-dockerfile.mjs lint      PASS/FAIL lines: parse, dockerfile-utils' linter, and
//                                       the image contract (stages, scripts, user, port, ...)
//   node check-dockerfile.mjs plan      the stages as JSON steps for run.sh's chroot executor
//   node check-dockerfile.mjs context   the build context (files .dockerignore keeps), NUL-separated
// The plan is what run.sh executes in debootstrap chroots, so the scripts the RUN lines call are
// the ones tested by construction: an instruction the executor does not know fails the plan.
// Environment: SMOLSERVE_BIN (the variables `smolserve --help` lists), for lint.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DockerfileParser } from "dockerfile-ast";
import { validate as lintDockerfile } from "dockerfile-utils";
import dockerignore from "@balena/dockerignore";
import { check, skip, fail, exitCode } from "./lib/report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const DOCKERFILE = path.join(REPO, "Dockerfile");
const BASE = "debian:bookworm-slim";

// Files of the build context, relative to the repository, as Docker would send them.
export function contextFiles() {
  const patterns = fs.readFileSync(path.join(REPO, ".dockerignore"), "utf8").split("\n")
    .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const ig = dockerignore({ ignorecase: false }).add(patterns);
  const prune = !patterns.some((p) => p.startsWith("!"));
  const out = [];
  (function walk(rel) {
    for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (prune && ig.ignores(r)) continue;
        walk(r);
      } else if (!ig.ignores(r)) out.push(r);
    }
  })("");
  return out.sort();
}

function parse() {
  const text = fs.readFileSync(DOCKERFILE, "utf8");
  return { text, df: DockerfileParser.parse(text) };
}

const jsonArgs = (ins) => JSON.parse(ins.getArgumentsContent());

// The Dockerfile as stages of steps; throws on anything the executor cannot do faithfully.
export function plan() {
  const { df } = parse();
  const args = {};
  const stages = [];
  let stage = null;
  const final = { env: {}, user: null, expose: [], entrypoint: null, cmd: null, healthcheck: null, stopsignal: null };
  for (const ins of df.getInstructions()) {
    const k = ins.getKeyword();
    const where = `Dockerfile:${ins.getRange().start.line + 1}`;
    const sub = (s) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a || b] ?? "");
    if (k === "ARG") {
      const p = ins.getProperty();
      if (stage) throw new Error(`${where}: ARG inside a stage is not handled`);
      args[p.getName()] = p.getValue() ?? "";
      continue;
    }
    if (k === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.getArgumentsContent().trim());
      stage = { name: m[2] || String(stages.length), base: sub(m[1]), steps: [] };
      stages.push(stage);
      Object.assign(final, { env: {}, user: null, expose: [], entrypoint: null, cmd: null, healthcheck: null, stopsignal: null });
      continue;
    }
    if (!stage) throw new Error(`${where}: ${k} before FROM`);
    switch (k) {
      case "WORKDIR": stage.steps.push({ op: "workdir", path: ins.getArgumentsContent().trim() }); break;
      case "COPY": {
        const flags = Object.fromEntries(ins.getFlags().map((f) => [f.getName(), f.getValue()]));
        for (const f of Object.keys(flags)) if (f !== "from") throw new Error(`${where}: COPY --${f} is not handled`);
        const parts = ins.getArguments().map((a) => a.getValue());
        stage.steps.push({ op: "copy", from: flags.from || null, src: parts.slice(0, -1), dest: parts[parts.length - 1] });
        break;
      }
      case "RUN": {
        const c = ins.getArgumentsContent().trim();
        if (c.startsWith("[")) throw new Error(`${where}: exec-form RUN is not handled`);
        stage.steps.push({ op: "run", cmd: c });
        break;
      }
      case "ENV": {
        const vars = Object.fromEntries(ins.getProperties().map((p) => [p.getName(), p.getValue()]));
        Object.assign(final.env, vars);
        stage.steps.push({ op: "env", vars });
        break;
      }
      case "USER": final.user = ins.getArgumentsContent().trim(); break;
      case "EXPOSE": final.expose.push(...ins.getArguments().map((a) => a.getValue())); break;
      case "ENTRYPOINT": final.entrypoint = jsonArgs(ins); break;
      case "CMD": final.cmd = jsonArgs(ins); break;
      case "STOPSIGNAL": final.stopsignal = ins.getArgumentsContent().trim(); break;
      case "HEALTHCHECK": {
        const content = ins.getArgumentsContent().trim();
        const flags = Object.fromEntries(ins.getFlags().map((f) => [f.getName(), f.getValue()]));
        const m = /CMD\s+(\[.*\])\s*$/s.exec(content);
        if (!m) throw new Error(`${where}: HEALTHCHECK must be CMD in exec form`);
        final.healthcheck = { flags, cmd: JSON.parse(m[1]) };
        break;
      }
      default: throw new Error(`${where}: instruction ${k} is not handled by the chroot executor`);
    }
  }
  return { args, stages, final };
}

function smolserveVariables() {
  const help = execFileSync(process.env.SMOLSERVE_BIN, ["--help"], { encoding: "utf8" });
  return new Set([...help.matchAll(/\(env ([A-Z_]+),/g)].map((m) => m[1]));
}

async function lint() {
  const { text } = parse();
  await check("Dockerfile lint (dockerfile-utils, the VS Code Docker linter): no diagnostics", () =>
    lintDockerfile(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`));
  await check("control: the linter flags a broken Dockerfile", () =>
    lintDockerfile("FROM debian:bookworm-slim\nEXPOSE port\nHEALTHCHECK CMD\nCOPY onlyone\n").length >= 2 ? [] : ["no diagnostics"]);
  skip("hadolint", "not packaged in Debian 12; its npm wrappers download a binary from GitHub, which this machine cannot reach");

  let p;
  await check("Dockerfile plan: every instruction is one the chroot executor runs", () => { p = plan(); });
  if (!p) return;
  const [build, runtime] = p.stages;
  await check(`two stages, both from ${BASE}`, () => {
    const e = [];
    if (p.stages.length !== 2) e.push(`${p.stages.length} stages`);
    for (const s of p.stages) if (s.base !== BASE) e.push(`stage ${s.name} is FROM ${s.base}`);
    return e;
  });
  await check("build stage RUNs deploy/docker/build.sh (which calls deploy/install-deps.sh)", () => {
    const runs = build.steps.filter((s) => s.op === "run").map((s) => s.cmd);
    const e = [];
    if (!runs.some((r) => /^bash deploy\/docker\/build\.sh\b/.test(r))) e.push(`RUN lines: ${JSON.stringify(runs)}`);
    if (!/deploy\/install-deps\.sh/.test(fs.readFileSync(path.join(REPO, "deploy/docker/build.sh"), "utf8"))) e.push("build.sh does not call install-deps.sh");
    return e;
  });
  await check("runtime stage RUNs deploy/docker/runtime-setup.sh, copies only the binary from build", () => {
    const e = [];
    const runs = runtime.steps.filter((s) => s.op === "run").map((s) => s.cmd);
    if (!runs.some((r) => /runtime-setup\.sh/.test(r))) e.push(`RUN lines: ${JSON.stringify(runs)}`);
    const fromBuild = runtime.steps.filter((s) => s.op === "copy" && s.from);
    if (fromBuild.length !== 1 || fromBuild[0].src.length !== 1 || !/\/bin\/smolserve$/.test(fromBuild[0].src[0])) e.push(`COPY --from: ${JSON.stringify(fromBuild)}`);
    const ctx = runtime.steps.filter((s) => s.op === "copy" && !s.from).flatMap((s) => s.src);
    if (!ctx.includes("deploy/docker/runtime-setup.sh")) e.push("runtime-setup.sh is not copied in");
    return e;
  });
  await check("every COPY source from the context exists and is in the context (.dockerignore)", () => {
    const files = new Set(contextFiles());
    const e = [];
    for (const s of p.stages) for (const st of s.steps) if (st.op === "copy" && !st.from)
      for (const src of st.src) if (src !== "." && !files.has(src)) e.push(`${src} is not in the build context`);
    for (const need of ["meson.build", "deploy/install-deps.sh", "deploy/docker/build.sh", "server/main.c"]) if (!files.has(need)) e.push(`${need} left out of the context`);
    for (const f of files) if (/^(build|\.git\/|bench\/out)|node_modules\/|^deploy\/\.cache\//.test(f)) e.push(`${f} should not be in the context`);
    return e;
  });
  const f = p.final;
  await check("runtime: numeric non-root USER 10001, EXPOSE 3000, STOPSIGNAL SIGTERM", () => {
    const e = [];
    if (!/^10001(:10001)?$/.test(f.user || "")) e.push(`USER ${f.user}`);
    if (!f.expose.includes("3000")) e.push(`EXPOSE ${f.expose}`);
    if (f.stopsignal && f.stopsignal !== "SIGTERM") e.push(`STOPSIGNAL ${f.stopsignal}`);
    return e;
  });
  await check("ENTRYPOINT runs `smolserve serve` in exec form (PID 1 gets SIGTERM)", () =>
    Array.isArray(f.entrypoint) && f.entrypoint[0] === "smolserve" && f.entrypoint[1] === "serve" ? [] : [`ENTRYPOINT ${JSON.stringify(f.entrypoint)}`]);
  await check("HEALTHCHECK: exec form, the script runtime-setup.sh installs", () => {
    const e = [];
    if (!f.healthcheck) return ["no HEALTHCHECK"];
    const setup = fs.readFileSync(path.join(REPO, "deploy/docker/runtime-setup.sh"), "utf8");
    if (!setup.includes(f.healthcheck.cmd[0])) e.push(`${f.healthcheck.cmd[0]} is not installed by runtime-setup.sh`);
    if (!/\/health\b/.test(fs.readFileSync(path.join(REPO, "deploy/docker/healthcheck.sh"), "utf8"))) e.push("healthcheck.sh does not GET /health");
    return e;
  });
  await check("ENV: every name is a variable smolserve reads, MODEL_ID under /models, no HOSTNAME", () => {
    const vars = smolserveVariables();
    const e = Object.keys(f.env).filter((n) => !vars.has(n)).map((n) => `${n} is not read by smolserve`);
    if (!/^\/models\//.test(f.env.MODEL_ID || "")) e.push(`MODEL_ID ${f.env.MODEL_ID}`);
    if ("HOSTNAME" in f.env) e.push("HOSTNAME is the container's name at run time; the entrypoint passes --hostname");
    if (f.env.PORT && !f.expose.includes(f.env.PORT)) e.push(`PORT ${f.env.PORT} is not EXPOSEd`);
    return e;
  });
  await check("Dockerfile documents OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS", () =>
    ["OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"].filter((v) => !text.includes(v)).map((v) => `${v} not mentioned`));
}

const mode = process.argv[2];
if (mode === "plan") {
  process.stdout.write(JSON.stringify(plan()) + "\n");
} else if (mode === "context") {
  process.stdout.write(contextFiles().join("\0") + "\0");
} else if (mode === "lint") {
  await lint().catch((e) => fail("check-dockerfile", e.stack || e));
  process.exitCode = exitCode();
} else {
  console.error("usage: node check-dockerfile.mjs lint|plan|context");
  process.exitCode = 2;
}
