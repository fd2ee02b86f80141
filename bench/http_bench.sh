#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP load benchmark: smolserve serving a random-weight MiniLM-L6 folder
# (written by bench_core) on 127.0.0.1, driven by wrk at several
# concurrencies with mixed-length /embed requests. Prints requests/s,
# tokens/s (from the server's own metrics), p50/p99 latency and the mean
# batch size, next to the engine-only rate bench_core measures in the same
# run on the same folder. Bounded: BENCH_HTTP_SECONDS per concurrency
# (default 8), concurrencies BENCH_HTTP_CONNS (default "1 4 16 64").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
BUILD="${BUILD_DIR:-build-bench}"
OUT="${BENCH_DIR:-bench/out}"
SECS="${BENCH_HTTP_SECONDS:-8}"
CONNS="${BENCH_HTTP_CONNS:-1 4 16 64}"
SHAPE="${BENCH_HTTP_SHAPE:-minilm-l6}"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" server/smolserve bench/bench_core >/dev/null

echo "== engine only (bench_core, same folder, same run)"
"$BUILD/bench/bench_core" --shapes "$SHAPE" --dir "$OUT" --seconds 2 --no-breakdown | tee /tmp/smolserve-engine.txt
# rows: shape backend workload tokens median_ms spread_% tokens/s ...
engine_mixed=$(awk '$1 == shape && $3 ~ /^mixed/ {print $7}' shape="$SHAPE" /tmp/smolserve-engine.txt | head -n 1)
engine_1x16_ms=$(awk '$1 == shape && $3 == "single-1x16" {print $5}' shape="$SHAPE" /tmp/smolserve-engine.txt | head -n 1)

PORT="${BENCH_HTTP_PORT:-38117}"
LOG=$(mktemp)
"$BUILD/server/smolserve" serve --model "$OUT/$SHAPE" --hostname 127.0.0.1 --port "$PORT" \
  ${SMOLSERVE_ARGS:-} 2>"$LOG" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$LOG"; exit 1; }
curl -s "http://127.0.0.1:$PORT/info"; echo

metric() { # sum of a metric's samples (name matches exactly, any labels)
  curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.6f\n", s}'
}

printf '\n%-6s %10s %12s %9s %9s %9s %10s\n' conns "req/s" "tokens/s" "p50 ms" "p99 ms" "batch" "vs engine"
for c in $CONNS; do
  tok0=$(metric te_batch_next_tokens_sum); bs0=$(metric te_batch_next_size_sum); bc0=$(metric te_batch_next_size_count)
  out=$(wrk -t1 -c "$c" -d "${SECS}s" --latency -s bench/wrk_embed.lua "http://127.0.0.1:$PORT")
  tok1=$(metric te_batch_next_tokens_sum); bs1=$(metric te_batch_next_size_sum); bc1=$(metric te_batch_next_size_count)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
  python3 - "$c" "$rps" "$tok0" "$tok1" "$bs0" "$bs1" "$bc0" "$bc1" "$p50" "$p99" "$SECS" "${engine_mixed:-0}" <<'PY'
import sys
def ms(v):
    v = v.strip()
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    return float(v)
c, rps, t0, t1, b0, b1, n0, n1, p50, p99, secs, eng = sys.argv[1:]
tok = (float(t1) - float(t0)) / float(secs)
n = float(n1) - float(n0)
batch = (float(b1) - float(b0)) / n if n else 0.0
eng = float(eng)
print(f"{c:<6} {float(rps):10.1f} {tok:12.0f} {ms(p50):9.2f} {ms(p99):9.2f} {batch:9.2f} "
      f"{(tok / eng if eng else 0):9.0%}")
PY
  [ -z "$errors" ] || echo "   $errors"
done
# One connection, one 16-token request at a time: the service's latency next to the engine's.
# Each filler word is one [UNK] token in the bench folder's vocabulary: 14 words + [CLS] + [SEP].
n16=$(curl -s "http://127.0.0.1:$PORT/tokenize" -H 'Content-Type: application/json' \
  -d "{\"inputs\": \"$(printf 'word%d ' $(seq 14) | sed 's/ $//')\"}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]))')
out=$(WRK_WORDS=14 wrk -t1 -c1 -d "${SECS}s" --latency -s bench/wrk_embed.lua "http://127.0.0.1:$PORT")
p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
echo
echo "1 connection, one ${n16}-token /embed at a time: p50 $p50 (engine-only single-1x16: ${engine_1x16_ms:-?} ms)"
echo
echo "engine-only mixed-length rate: ${engine_mixed:-?} tokens/s (bench_core, 32 packed sequences)"
echo "engine-only latency of one 16-token request: ${engine_1x16_ms:-?} ms (bench_core single-1x16)"
echo "wrk runs on the same 2 cores as the server, so it takes CPU from it."
