#!/usr/bin/python3
"""Joins the runs bench/run_core.sh made into one table.

Reads RESULTS_DIR/core-<setting>.json (bench_core --json), torch-<setting>.json (torch_peer,
OMP_WAIT_POLICY=passive) and, if present, torch-asis-<setting>.json (torch_peer with the
environment untouched), where <setting> names an OpenBLAS kernel setting ("env", "skx").
Each file's last line is the JSON the tool printed. Prints the table and writes
RESULTS_DIR/summary.json. Standard library only.
"""

import json
import os
import sys

SETTING_ORDER = ["env", "skx"]


def last_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def by_key(doc):
    return {(r["shape"], r["workload"]): r for r in doc["results"]} if doc else {}


def fmt(x, spec):
    """format(x, spec), or "-" as wide as spec's width when x is None."""
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if x is None else format(x, spec)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "bench/out/results"
    settings = [s for s in SETTING_ORDER if os.path.exists(os.path.join(d, f"core-{s}.json"))]
    runs = {}
    for s in settings:
        runs[s] = {"core": last_json(os.path.join(d, f"core-{s}.json")),
                   "torch": last_json(os.path.join(d, f"torch-{s}.json")),
                   "torch_asis": last_json(os.path.join(d, f"torch-asis-{s}.json"))}

    print("OpenBLAS kernel settings (sgemm = gemm_nt 4096x3072x768, best of 5, in bench_core's "
          "process\nbefore and after its workloads; %sgemm below is against the better one):")
    for s in settings:
        c, t = runs[s]["core"], runs[s]["torch"] or runs[s]["torch_asis"]
        env = c["openblas_coretype_env"] or "unset"
        tcore = t["blas"]["corename"] if t else "-"
        print(f"  {s:4} OPENBLAS_CORETYPE={env:9} smolserve core {c['corename']:10} "
              f"sgemm {c['sgemm']['gflops_before']:5.1f} / "
              f"{c['sgemm']['gflops_after']:5.1f} GFLOP/s (before / after), "
              f"{c['threads']} threads, load avg {c['loadavg_start']:.1f}..{c['loadavg_end']:.1f}; "
              f"torch's OpenBLAS core {tcore}")
    t0 = next((runs[s][k] for s in settings for k in ("torch", "torch_asis") if runs[s][k]),
              None)
    if t0:
        print(f"  torch {t0['torch']}, {t0['blas_info']}, "
              f"{t0['threads']} threads, loaded {t0['blas'].get('openblas_lib')}")
        # worst of every run's checks: fixtures (torch-asis runs them) and shapes
        checks = {}
        for s in settings:
            for doc in (runs[s]["torch_asis"], runs[s]["torch"]):
                for k, v in (doc["checks"] if doc else {}).items():
                    checks[k] = max(checks.get(k, 0.0), v)
        shapes = {r["shape"] for s in settings for r in runs[s]["core"]["results"]}
        fixtures = [k for k in checks if k not in shapes]
        print("  torch checks (max |diff| of last_hidden_state): " +
              (("vs Hugging Face fixtures " +
                ", ".join(f"{os.path.basename(k)} {checks[k]:.1e}" for k in fixtures) + "; ")
               if fixtures else "") +
              "vs smolserve " +
              ", ".join(f"{k} {v:.1e}" for k, v in checks.items() if k in shapes))
    print()
    head = (f"{'shape':16} {'workload':16} {'kernel':9} {'smolserve':>10} {'GFLOP/s':>8} "
            f"{'%sgemm':>6} {'elem%':>5} {'torch':>8} {'ratio':>6} {'torch_asis':>10} "
            f"{'ratio':>6}")
    print("tokens/s (real tokens, median batch time); ratio = smolserve / torch")
    print(head)
    print("-" * len(head))
    rows = []
    keys = [k for k in by_key(runs[settings[0]]["core"])] if settings else []
    for key in keys:
        for s in settings:
            c = by_key(runs[s]["core"]).get(key)
            t = by_key(runs[s]["torch"]).get(key)
            ta = by_key(runs[s]["torch_asis"]).get(key)
            if c is None:
                continue
            parts = c.get("parts_ms") or {}
            total = sum(parts.values())
            # single-threaded work outside BLAS ("gelu" / "layernorm": older runs' names)
            elem = (parts.get("softmax", 0) + parts.get("act", parts.get("gelu", 0)) +
                    parts.get("norm", parts.get("layernorm", 0)) + parts.get("copy", 0))
            row = {"shape": key[0], "workload": key[1], "setting": s,
                   "corename": runs[s]["core"]["corename"],
                   "smolserve_tokens_per_s": c["tokens_per_s"], "gflops": c["gflops"],
                   "frac_sgemm": c["frac_sgemm"],
                   "elementwise_share": elem / total if total else None,
                   "torch_tokens_per_s": t["tokens_per_s"] if t else None,
                   "ratio": c["tokens_per_s"] / t["tokens_per_s"] if t else None,
                   "torch_asis_tokens_per_s": ta["tokens_per_s"] if ta else None,
                   "ratio_asis": c["tokens_per_s"] / ta["tokens_per_s"] if ta else None}
            rows.append(row)
            print(f"{key[0]:16} {key[1]:16} {row['corename']:9} {c['tokens_per_s']:10.0f} "
                  f"{c['gflops']:8.1f} {100 * c['frac_sgemm']:5.0f}% "
                  f"{fmt(row['elementwise_share'] and 100 * row['elementwise_share'], '4.0f')}% "
                  f"{fmt(row['torch_tokens_per_s'], '8.0f')} {fmt(row['ratio'], '6.2f')} "
                  f"{fmt(row['torch_asis_tokens_per_s'], '10.0f')} "
                  f"{fmt(row['ratio_asis'], '6.2f')}")
    print()
    print("torch = OMP_WAIT_POLICY=passive; torch_asis = environment untouched (libgomp "
          "spin-waits\nagainst OpenBLAS's own threads; one timed batch). elem% = share of "
          "smolserve's layer\ntime in softmax + activation + LayerNorm/NoNorm (+ MobileBERT's "
          "copies) (bench_core's\nop replay). GFLOP/s counts each architecture's own dense "
          "layers and attention.")
    for s in settings:
        for name in ("core", "torch", "torch_asis"):
            doc = runs[s][name]
            if doc is None:
                continue
            for r in doc["results"]:
                if r["iters"] > 1 and r["max_ms"] > 1.25 * r["min_ms"]:
                    print(f"note: {name}/{s} {r['shape']} {r['workload']}: runs spread "
                          f"{r['min_ms']:.0f}..{r['max_ms']:.0f} ms over {r['iters']} runs")
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump({"settings": runs,
                   "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
