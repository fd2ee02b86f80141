#!/usr/bin/env bash
# bench/run_core.sh: the core benchmark, end to end. Builds bench_core (own build dir),
# runs it with OpenBLAS's kernel as the environment sets it and again forced to SkylakeX,
# runs the PyTorch peer (bench/torch_peer.py, Debian's python3-torch) on the same folders
# and workloads under both settings, and prints one table (bench/report.py).
#
# Environment: BUILD_DIR (default build-bench), BENCH_DIR (default bench/out),
# BENCH_SECONDS (default 1: each workload is timed >= this long and >= BENCH_MIN_ITERS
# runs, default 3), BENCH_THREADS (default: every CPU the process may use),
# BENCH_SHAPES (default minilm-l6,distilbert-base,bert-base,albert-base,mobilebert,
# mpnet-base,deberta-v3-base,modernbert-base), BENCH_LONG (default 8192: bench_long's one
# ModernBERT-base input, time and peak RSS; 0 skips it).
# About 25 minutes on a quiet 2-core machine, most of it in the base shapes and in PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build-bench}
OUT=${BENCH_DIR:-bench/out}
SECS=${BENCH_SECONDS:-1}
ITERS=${BENCH_MIN_ITERS:-3}
THREADS=${BENCH_THREADS:-0}
SHAPES=${BENCH_SHAPES:-minilm-l6,distilbert-base,bert-base,albert-base,mobilebert,mpnet-base,deberta-v3-base,modernbert-base}
LONG=${BENCH_LONG:-8192}
PY=/usr/bin/python3 # Debian's python with python3-torch, not a pyenv shim
RES=$OUT/results
export BENCH_DIR=$OUT

if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "run_core.sh: $PY cannot import torch; apt-get install -y python3-torch" >&2
	exit 1
fi
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype=release
fi
ninja -C "$BUILD" bench/bench_core bench/bench_long
mkdir -p "$RES"
rm -f "$RES"/*.json "$RES"/*.log

core_args=(--seconds "$SECS" --min-iters "$ITERS" --threads "$THREADS" --shapes "$SHAPES" --json)
torch_args=(--seconds "$SECS" --min-iters "$ITERS" --threads "$THREADS" --shapes "$SHAPES" --json)

# run NAME [VAR=value ...] -- command...: tees the output to $RES/NAME.log and keeps
# the last line (the tool's JSON) in $RES/NAME.json.
run() {
	local name=$1
	shift
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	echo
	echo "=== $name: ${envs[*]:-(environment as is)} $*"
	env "${envs[@]}" "$@" | tee "$RES/$name.log"
	tail -n 1 "$RES/$name.log" >"$RES/$name.json"
}

# 1. OpenBLAS kernel as the environment sets it (OPENBLAS_CORETYPE as set, or autodetect).
run core-env -- "$BUILD/bench/bench_core" "${core_args[@]}"
# The untuned torch run is a reference point only: one timed batch after the warm-up.
run torch-asis-env -- "$PY" bench/torch_peer.py "${torch_args[@]}" --min-iters 1 --seconds 0 \
	--fixtures tests/fixtures/bert tests/fixtures/distilbert tests/fixtures/albert \
	tests/fixtures/mobilebert tests/fixtures/mpnet tests/fixtures/deberta-v2 \
	tests/fixtures/deberta-v2-logbuckets tests/fixtures/modernbert
run torch-env OMP_WAIT_POLICY=passive -- "$PY" bench/torch_peer.py "${torch_args[@]}"

# 2. Forced to the AVX-512 kernels.
run core-skx OPENBLAS_CORETYPE=SkylakeX -- "$BUILD/bench/bench_core" "${core_args[@]}"
run torch-skx OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=passive -- \
	"$PY" bench/torch_peer.py "${torch_args[@]}"

# 3. One long input: ModernBERT-base, BENCH_LONG tokens, its time and peak RSS.
if [ "$LONG" != 0 ]; then
	run long-env -- "$BUILD/bench/bench_long" --shape modernbert-base --len "$LONG" --runs 1 \
		--threads "$THREADS" --json
fi

echo
"$PY" bench/report.py "$RES" | tee "$RES/table.txt"
