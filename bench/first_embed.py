#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""How soon a freshly started smolserve answers its first /embed, and its memory.

Starts `smolserve serve` on a model folder (a bench_core folder, weights already in the
page cache after the first, untimed start), sends POST /embed as soon as the port accepts
connections, and measures the wall time from starting the process to the first 200 answer:
process start, the OpenBLAS kernel choice (and its re-exec, if any), model load and weight
layout, the warm-up pass, and the request itself. Then reads /info (resident memory after
load and now, the kernel choice, the GEMM backend) and stops the server with SIGTERM.
Starts alternate between two kinds, both with the weights in the page cache: with a layout
cache (a private folder, written by the untimed first start, as any start after the first
finds it) and without one (--layout-cache off: the weights laid out anew in fresh memory).

usage: /usr/bin/python3 bench/first_embed.py --bin build-bench/server/smolserve
                        --model bench/out/minilm-l6 [--runs 5] [--json]
Standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BODY = json.dumps({"inputs": "the first request after start"})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body,
                  headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def one_start(binary, model, extra, deadline_s=30.0):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--model", model, "--hostname", "127.0.0.1",
                          "--port", str(port)] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if time.perf_counter() - t0 > deadline_s or p.poll() is not None:
                raise RuntimeError(f"smolserve did not answer /embed: "
                                   f"{p.stderr.read().decode(errors='replace') if p.poll() is not None else 'timeout'}")
            try:
                status, _ = request(port, "POST", "/embed", BODY, timeout=deadline_s)
            except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
                time.sleep(0.0005)
                continue
            if status == 200:
                first_ms = 1e3 * (time.perf_counter() - t0)
                break
            time.sleep(0.0005)  # 503 while loading: not ready yet
        _, info = request(port, "GET", "/info")
        info = json.loads(info)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return first_ms, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build-bench/server/smolserve")
    ap.add_argument("--model", default=os.path.join(os.environ.get("BENCH_DIR") or "bench/out",
                                                    "minilm-l6"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("extra", nargs="*", help="more smolserve flags (after --)")
    a = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="smolserve-bench-layout-")
    with_cache, no_cache = ["--layout-cache", cache] + a.extra, ["--layout-cache", "off"] + a.extra
    try:
        _, info = one_start(a.bin, a.model, with_cache)  # page cache warm-up, untimed
        if info.get("layout_cache") != "written":
            raise RuntimeError(f"the first start did not write the layout cache: {info}")
        times, infos, times_off = [], [], []
        for _ in range(a.runs):  # interleaved: a busy machine slows both alike
            ms, info = one_start(a.bin, a.model, with_cache)
            times.append(ms)
            infos.append(info)
            times_off.append(one_start(a.bin, a.model, no_cache)[0])
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    last = infos[-1]
    out = {"tool": "first_embed", "model": a.model,
           "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
           "first_embed_ms": {"median": statistics.median(times), "min": min(times),
                              "max": max(times), "runs": times},
           "first_embed_no_cache_ms": {"median": statistics.median(times_off),
                                       "min": min(times_off), "max": max(times_off),
                                       "runs": times_off},
           "layout_cache": last["layout_cache"],
           "rss_after_load_mib": statistics.median(i["rss_after_load_mib"] for i in infos),
           "rss_mib": last["rss_mib"], "rss_peak_mib": last["rss_peak_mib"],
           "blas_kernels": last["blas_kernels"], "blas_kernel_choice": last["blas_kernel_choice"],
           "gemm_backend": last["gemm_backend"], "model_load_seconds": last["model_load_seconds"]}
    print(f"first /embed after start: median {out['first_embed_ms']['median']:.1f} ms "
          f"({min(times):.1f}..{max(times):.1f}, {a.runs} starts, layout cache "
          f"{out['layout_cache']}); without the layout cache "
          f"{statistics.median(times_off):.1f} ms ({min(times_off):.1f}..{max(times_off):.1f})"
          f"; RSS after load "
          f"{out['rss_after_load_mib']:.1f} MiB; OpenBLAS {out['blas_kernels']} "
          f"({out['blas_kernel_choice']['action']}); {out['gemm_backend']}")
    if a.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
