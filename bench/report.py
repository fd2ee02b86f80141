#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Joins the runs bench/run_core.sh made into one table of medians, ranges and ratios.

Reads RESULTS_DIR/<tool>-<setting>-<round>.json, where tool is core (bench_core --json),
ort (bench/ort_peer.mjs), torch (bench/torch_peer.py) or start (bench/first_embed.py) and
setting names the OpenBLAS environment ("env": as it was, "unset": OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE removed). Each file's last line is the JSON its tool printed. A ratio is
computed within one round (tools run back to back), then its median and range over the
rounds is shown. Prints the tables and the issue's proof targets, writes
RESULTS_DIR/summary.json. Standard library only.
"""

import glob
import json
import os
import re
import statistics
import sys

SETTING_ORDER = ["env", "unset", "trap", "prescott"]
THROUGHPUT = ["fixed-32x128", "mixed-32x8..256"]
LATENCY = ["single-1x16", "single-1x128"]


def last_json(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def load(d):
    """{tool: {setting: {round: doc}}}"""
    runs = {}
    for path in glob.glob(os.path.join(d, "*.json")):
        m = re.fullmatch(r"(core|ort|torch|start)-(\w+)-(\d+)\.json", os.path.basename(path))
        if not m:
            continue
        doc = last_json(path)
        if doc is not None:
            runs.setdefault(m[1], {}).setdefault(m[2], {})[int(m[3])] = doc
    return runs


def spread(values):
    """(median, min, max) of the non-None values, or None."""
    v = [x for x in values if x is not None]
    return (statistics.median(v), min(v), max(v)) if v else None


def fmt(s, spec, scale=1.0):
    """'median [min..max]' of a spread, '-' if None."""
    if s is None:
        return "-"
    med, lo, hi = (x * scale for x in s)
    if lo == hi:
        return format(med, spec)
    return f"{format(med, spec)} [{format(lo, spec)}..{format(hi, spec)}]"


def result(doc, shape, workload, backend=None):
    for r in (doc or {}).get("results", []):
        if r["shape"] == shape and r["workload"] == workload and \
                (backend is None or r.get("backend") == backend):
            return r
    return None


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "bench/out/results"
    runs = load(d)
    core = runs.get("core", {})
    settings = [s for s in SETTING_ORDER if s in core] + \
        sorted(s for s in core if s not in SETTING_ORDER)
    if not settings:
        print(f"report.py: no core-*.json in {d}")
        return 1
    rounds = sorted({r for s in settings for r in core[s]})
    first = core[settings[0]][rounds[0]]
    # smolserve's number: the backend --gemm-backend auto runs (amx where the CPU has it),
    # if it was timed; the packed fp32 kernel beside it when that is another one.
    main_be = first.get("default_backend", "packed")
    if not any(r.get("backend") == main_be for r in first["results"]):
        main_be = "packed"
    fp32_col = main_be != "packed"
    shapes = []
    for r in first["results"]:
        if r["shape"] not in shapes:
            shapes.append(r["shape"])

    print("Runs (sgemm = gemm_nt 4096x3072x768, one OpenBLAS call on all threads, best of 5, "
          "in bench_core's\nprocess; %sgemm is against the better of its before/after "
          "measurements; load = 1-min load average):")
    for s in settings:
        docs = [core[s][r] for r in sorted(core[s])]
        c = docs[0]
        kc = c.get("kernel_choice", {})
        sg = spread(x["sgemm"]["gflops"] for x in docs)
        pk = spread(x["sgemm"].get("packed_gflops") for x in docs)
        ax = spread(x["sgemm"].get("amx_gflops") for x in docs)
        loads = [x[k] for x in docs for k in ("loadavg_start", "loadavg_end")]
        print(f"  {s:5}: OPENBLAS_CORETYPE={c['openblas_coretype_env'] or 'unset'}, "
              f"OPENBLAS_L2_SIZE={c.get('openblas_l2_size_env') or 'unset'}; OpenBLAS "
              f"kernels {c['corename']} ({kc.get('action', '?')}, OpenBLAS picked "
              f"{kc.get('picked') or '?'}); packed kernel {c.get('kernel', '?')}; "
              f"{c['threads']} threads;\n         sgemm {fmt(sg, '.0f')} GFLOP/s, packed "
              f"kernel same shape {fmt(pk, '.0f')}"
              + (f", amx {fmt(ax, '.0f')}" if ax and ax[0] else "") +
              f"; load {min(loads):.1f}..{max(loads):.1f}; {len(docs)} rounds")
    ort = runs.get("ort", {})
    o0 = next((ort[s][r] for s in ort for r in ort[s]), None)
    if o0:
        worst = max(v for s in ort for r in ort[s] for v in ort[s][r]["checks"].values())
        print(f"  onnxruntime-node {o0['onnxruntime']}, {o0['threads']} intra-op threads; "
              f"its last_hidden_state vs smolserve's: max |diff| {worst:.1e}")
    torch = runs.get("torch", {})
    t0 = next((torch[s][r] for s in torch for r in torch[s]), None)
    if t0:
        print(f"  torch {t0['torch']} ({t0['blas_info']}), {t0['threads']} threads, "
              "OMP_WAIT_POLICY=passive; checks: " +
              ", ".join(f"{os.path.basename(k)} {v:.1e}" for k, v in t0["checks"].items()))

    rows = []

    def row_for(s, shape, wl):
        per_round = []
        for r in rounds:
            c = core.get(s, {}).get(r)
            p = result(c, shape, wl, main_be)
            b = result(c, shape, wl, "openblas")
            o = result(ort.get(s, {}).get(r), shape, wl)
            t = result(torch.get(s, {}).get(r), shape, wl)
            f = result(c, shape, wl, "packed") if fp32_col else None
            per_round.append((p, b, o, t, f))
        get = lambda i, k: [x[i][k] if x[i] else None for x in per_round]  # noqa: E731
        ratio = [p["tokens_per_s"] / o["tokens_per_s"] if p and o else None
                 for p, _, o, _, _ in per_round]
        tratio = [p["tokens_per_s"] / t["tokens_per_s"] if p and t else None
                  for p, _, _, t, _ in per_round]
        row = {"setting": s, "shape": shape, "workload": wl, "backend": main_be,
               "main_tokens_per_s": spread(get(0, "tokens_per_s")),
               "main_ms": spread(get(0, "median_ms")),
               "fp32_tokens_per_s": spread(get(4, "tokens_per_s")),
               "fp32_ms": spread(get(4, "median_ms")),
               "openblas_tokens_per_s": spread(get(1, "tokens_per_s")),
               "openblas_ms": spread(get(1, "median_ms")),
               "ort_tokens_per_s": spread(get(2, "tokens_per_s")),
               "ort_ms": spread(get(2, "median_ms")),
               "torch_tokens_per_s": spread(get(3, "tokens_per_s")),
               "frac_sgemm": spread(get(0, "frac_sgemm")),
               "ratio_ort": spread(ratio), "ratio_torch": spread(tratio),
               "parts_ms": next((x[0].get("parts_ms") for x in per_round
                                 if x[0] and x[0].get("parts_ms")), None)}
        rows.append(row)
        return row

    print("\nThroughput, tokens/s (real tokens; median [range] over rounds); ratio = smolserve "
          f"({main_be} backend) / onnxruntime, per round")
    extra = f" {'packed fp32':>24}" if fp32_col else ""
    head = (f"{'shape':15} {'workload':15} {'set':5} {'smolserve':>24} {'%sgemm':>7}{extra} "
            f"{'openblas backend':>24} {'onnxruntime':>24} {'ratio':>18} {'vs torch':>8}")
    print(head)
    print("-" * len(head))
    for shape in shapes:
        for wl in THROUGHPUT:
            for s in settings:
                r = row_for(s, shape, wl)
                extra = f"{fmt(r['fp32_tokens_per_s'], '.0f'):>24} " if fp32_col else ""
                print(f"{shape:15} {wl:15} {s:5} {fmt(r['main_tokens_per_s'], '.0f'):>24} "
                      f"{fmt(r['frac_sgemm'], '.0f', 100):>6}% {extra}"
                      f"{fmt(r['openblas_tokens_per_s'], '.0f'):>24} "
                      f"{fmt(r['ort_tokens_per_s'], '.0f'):>24} "
                      f"{fmt(r['ratio_ort'], '.2f'):>18} "
                      f"{fmt(r['ratio_torch'] and (r['ratio_torch'][0],) * 3, '.2f'):>8}")
    print("\nLatency of one request, ms (median batch time; median [range] over rounds); "
          "ratio = onnxruntime ms / smolserve ms")
    extra = f" {'packed fp32':>22}" if fp32_col else ""
    head = (f"{'shape':15} {'workload':15} {'set':5} {'smolserve':>22}{extra} "
            f"{'openblas backend':>22} {'onnxruntime':>22} {'ratio':>18}")
    print(head)
    print("-" * len(head))
    for shape in shapes:
        for wl in LATENCY:
            for s in settings:
                r = row_for(s, shape, wl)
                extra = f" {fmt(r['fp32_ms'], '.2f'):>22}" if fp32_col else ""
                print(f"{shape:15} {wl:15} {s:5} {fmt(r['main_ms'], '.2f'):>22}{extra} "
                      f"{fmt(r['openblas_ms'], '.2f'):>22} {fmt(r['ort_ms'], '.2f'):>22} "
                      f"{fmt(r['ratio_ort'], '.2f'):>18}")

    print("\nMemory and start-up (MiB; bench_core: its scratch reserved for 16384 tokens, "
          "peak over its workloads;\nonnxruntime: the node process; server: smolserve serve, "
          "from /info)")
    for s in settings:
        docs = [core[s][r] for r in sorted(core[s])]
        for shape in shapes:
            sh = {b: [x for d in docs for x in d.get("shapes", [])
                      if x["shape"] == shape and x["backend"] == b]
                  for b in ("packed", "openblas", "amx")}
            o = [ort[s][r]["memory"].get(shape) for r in sorted(ort.get(s, {}))]
            o = [x for x in o if x]
            line = f"  {s:5} {shape:15}"
            for b, xs in sh.items():
                if xs:
                    line += (f" {b}: after load {fmt(spread(x['rss_after_load_mib'] for x in xs), '.0f')}"
                             f" peak {fmt(spread(x['rss_peak_mib'] for x in xs), '.0f')}"
                             f" (load {fmt(spread(x['load_ms'] for x in xs), '.0f')} ms);")
            if o:
                line += (f" onnxruntime: after load "
                         f"{fmt(spread(x['rss_after_load_mib'] - x['rss_before_mib'] for x in o), '.0f')}"
                         f" above node's own, peak {fmt(spread(x['peak_mib'] for x in o), '.0f')}")
            print(line)
    start = runs.get("start", {})
    for s in settings:
        docs = [start[s][r] for r in sorted(start.get(s, {}))]
        if docs:
            print(f"  {s:5} server minilm-l6: first /embed "
                  f"{fmt(spread(x['first_embed_ms']['median'] for x in docs), '.1f')} ms after "
                  f"start (layout cache read; without it "
                  f"{fmt(spread(x['first_embed_no_cache_ms']['median'] for x in docs), '.1f')} ms)"
                  f"; RSS after load {fmt(spread(x['rss_after_load_mib'] for x in docs), '.1f')}"
                  f"; kernels {docs[-1]['blas_kernels']} ({docs[-1]['blas_kernel_choice']['action']})")

    bd = [r for r in rows if r["parts_ms"] and r["setting"] == settings[0]]
    if bd:
        names = list(bd[0]["parts_ms"])
        print(f"\nWhere the time goes (ms, {main_be} backend, one profiled pass of round 1, "
              f"setting {settings[0]}):")
        print(f"  {'shape':15} {'workload':15}" + "".join(f" {n:>10}" for n in names))
        for r in bd:
            print(f"  {r['shape']:15} {r['workload']:15}" +
                  "".join(f" {r['parts_ms'][n]:10.2f}" for n in names))

    print("\nProof targets (issue 8), per setting: median over rounds [worst round]")

    def target(label, s, value, ok):
        print(f"  {'ok  ' if ok else 'MISS'} {s:5} {label}: {value}")

    for s in settings:
        def get(shape, wl):
            return next((r for r in rows if r["setting"] == s and r["shape"] == shape
                         and r["workload"] == wl), None)
        for shape, wl, want in (("minilm-l6", "fixed-32x128", 1.3),
                                ("minilm-l6", "mixed-32x8..256", 3.0),
                                ("bert-base", "fixed-32x128", 1.15),
                                ("distilbert-base", "fixed-32x128", 1.15)):
            r = get(shape, wl)
            if r and r["ratio_ort"]:
                target(f"{shape} {wl} >= {want}x onnxruntime", s,
                       f"{r['ratio_ort'][0]:.2f}x [{r['ratio_ort'][1]:.2f}]",
                       r["ratio_ort"][0] >= want)
        for wl in LATENCY:
            r = get("minilm-l6", wl)
            if r and r["ratio_ort"]:
                target(f"minilm-l6 {wl} latency <= onnxruntime's", s,
                       f"{r['main_ms'][0]:.2f} ms vs {r['ort_ms'][0]:.2f} ms",
                       r["ratio_ort"][0] >= 1.0)
        r = get("minilm-l6", "fixed-32x128")
        if r and r["frac_sgemm"]:
            target("minilm-l6 fixed-32x128 >= 80 % of sgemm", s,
                   f"{100 * r['frac_sgemm'][0]:.0f} %", r["frac_sgemm"][0] >= 0.8)
        docs = [start[s][x] for x in sorted(start.get(s, {}))]
        if docs:
            rss = statistics.median(x["rss_after_load_mib"] for x in docs)
            first_ms = statistics.median(x["first_embed_ms"]["median"] for x in docs)
            target("minilm-l6 server RSS after load <= 150 MiB", s, f"{rss:.1f} MiB",
                   rss <= 150)
            target("minilm-l6 first /embed <= 50 ms after start", s, f"{first_ms:.1f} ms",
                   first_ms <= 50)
    noisy = []
    for tool, per in runs.items():
        for s, rs in per.items():
            for rnd, doc in rs.items():
                for r in doc.get("results", []):
                    if r["iters"] > 1 and r["max_ms"] > 1.5 * r["min_ms"]:
                        noisy.append(f"{tool}/{s}/{rnd} {r['shape']} {r['workload']} "
                                     f"{r.get('backend', '')}".rstrip() +
                                     f" {r['min_ms']:.1f}..{r['max_ms']:.1f} ms")
    if noisy:
        print(f"\nnote: {len(noisy)} runs spread by more than 50 % (a busy machine; medians "
              "are robust to it, ranges are not):")
        for line in noisy[:12]:
            print("  " + line)
        if len(noisy) > 12:
            print(f"  ... and {len(noisy) - 12} more (summary.json has them all)")
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump({"runs": runs, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
