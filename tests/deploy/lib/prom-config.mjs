// SPDX-License-Identifier: Apache-2.0
// Writes the Prometheus configuration tests/deploy/run.sh starts: deploy/prometheus/prometheus.yml
// as it is, except that the smolserve job scrapes 127.0.0.1:PORT, everything runs every second
// and the rule files are given by absolute path.
//   node lib/prom-config.mjs PORT OUT
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const [port, out] = process.argv.slice(2);
const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../deploy/prometheus");
const cfg = YAML.parse(fs.readFileSync(path.join(dir, "prometheus.yml"), "utf8"));
cfg.global = { ...cfg.global, scrape_interval: "1s", evaluation_interval: "1s" };
cfg.rule_files = (cfg.rule_files || []).map((f) => path.resolve(dir, f));
const job = cfg.scrape_configs.find((j) => j.job_name === "smolserve");
if (!job) throw new Error("prometheus.yml has no smolserve job");
job.static_configs = [{ targets: [`127.0.0.1:${port}`] }];
fs.writeFileSync(out, YAML.stringify(cfg));
