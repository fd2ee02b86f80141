#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run_core.sh: the whole engine comparison in one command. Builds bench_core and
# smolserve (own build dir), writes the random-weight model folders and workloads, exports
# them to ONNX (bench/ort_export.py, Debian's python3-torch), installs onnxruntime-node into
# bench/node_modules if missing, then runs, round after round and interleaved so that a
# busy machine hits every tool alike:
#   - bench_core with every GEMM backend (packed, openblas, and amx where the CPU has it) on
#     every shape,
#   - the onnxruntime peer (bench/ort_peer.mjs, 2 intra-op threads),
#   - the PyTorch peer (bench/torch_peer.py, OMP_WAIT_POLICY=passive; first round only),
#   - the first /embed after a fresh start and the server's RSS (bench/first_embed.py),
# each once with the OpenBLAS environment as it is ("env") and once with OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE unset ("unset"), and prints one table of medians and ranges over the
# rounds with the ratios measured in the same round (bench/report.py). Two more settings on
# request: "prescott" (OPENBLAS_CORETYPE=Prescott set by the user: kept, OpenBLAS runs SSE3)
# and "trap" (unset, and smolserve told that OpenBLAS picked Prescott by itself, through the
# test-only SMOLSERVE_TEST_OPENBLAS_PICKED: the start-up choice re-executes with SkylakeX).
#
# Environment: BUILD_DIR (default build-bench), BENCH_DIR (default bench/out),
# BENCH_SECONDS (default 1: each workload is timed >= this long and >= BENCH_MIN_ITERS runs,
# default 3), BENCH_THREADS (default: every CPU the process may use; onnxruntime gets the
# same number of intra-op threads), BENCH_SHAPES (default
# minilm-l6,distilbert-base,bert-base,albert-base,mobilebert,mpnet-base,deberta-v3-base,
# modernbert-base), BENCH_ROUNDS (default 3), BENCH_PEERS (default "ort torch"),
# BENCH_SETTINGS (default "env unset"), BENCH_BACKENDS (default packed,openblas,amx; the
# ratios use the one smolserve's --gemm-backend auto runs), BENCH_LONG (default 8192: bench_long's one
# ModernBERT-base input, time and peak RSS, once; 0 skips it).
# About 25 minutes on a quiet 2-core machine with the defaults; BENCH_SHAPES=minilm-l6
# BENCH_PEERS=ort takes about 3.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build-bench}
OUT=${BENCH_DIR:-bench/out}
SECS=${BENCH_SECONDS:-1}
ITERS=${BENCH_MIN_ITERS:-3}
THREADS=${BENCH_THREADS:-0}
SHAPES=${BENCH_SHAPES:-minilm-l6,distilbert-base,bert-base,albert-base,mobilebert,mpnet-base,deberta-v3-base,modernbert-base}
LONG=${BENCH_LONG:-8192}
ROUNDS=${BENCH_ROUNDS:-3}
PEERS=${BENCH_PEERS:-ort torch}
SETTINGS=${BENCH_SETTINGS:-env unset}
PY=/usr/bin/python3 # Debian's python with python3-torch, not a pyenv shim
RES=$OUT/results
export BENCH_DIR=$OUT

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "run_core.sh: $PY cannot import torch; apt-get install -y python3-torch" >&2
	exit 1
fi
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype=release
fi
ninja -C "$BUILD" bench/bench_core bench/bench_long server/smolserve
mkdir -p "$RES"
rm -f "$RES"/*.json "$RES"/*.log

if [ "$THREADS" = 0 ]; then
	THREADS=$("$PY" -c 'import os; print(len(os.sched_getaffinity(0)))')
fi
"$BUILD/bench/bench_core" --prepare --shapes "$SHAPES" --threads "$THREADS"
if has_peer ort; then
	"$PY" bench/ort_export.py --shapes "$SHAPES" 2> >(grep -v -i warn >&2)
	if [ ! -d bench/node_modules/onnxruntime-node ]; then
		# --ignore-scripts: its install script fetches from nuget.org; the CPU build is in
		# the package itself. Versions pinned in bench/package.json.
		(cd bench && npm install --ignore-scripts --no-audit --no-fund)
	fi
fi

core_args=(--seconds "$SECS" --min-iters "$ITERS" --threads "$THREADS" --shapes "$SHAPES"
	--backends "${BENCH_BACKENDS:-packed,openblas,amx}" --json)
peer_args=(--seconds "$SECS" --min-iters "$ITERS" --threads "$THREADS" --shapes "$SHAPES" --json)

# run NAME SETTING -- command...: runs the command with the OpenBLAS environment of SETTING,
# tees its output to $RES/NAME.log and keeps the last line (the tool's JSON) in
# $RES/NAME.json.
run() {
	local name=$1 setting=$2
	shift 3
	local envs=()
	case "$setting" in
	unset) envs=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE) ;;
	prescott) envs=(-u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Prescott) ;;
	trap) envs=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE SMOLSERVE_TEST_OPENBLAS_PICKED=Prescott) ;;
	esac
	echo
	echo "=== $name ($setting: OPENBLAS_CORETYPE=$(env "${envs[@]}" printenv OPENBLAS_CORETYPE ||
		echo unset)) $*  [load $(cut -d' ' -f1-3 /proc/loadavg)]"
	env "${envs[@]}" "$@" | tee "$RES/$name.log"
	tail -n 1 "$RES/$name.log" >"$RES/$name.json"
}

for round in $(seq 1 "$ROUNDS"); do
	for setting in $SETTINGS; do
		breakdown=()
		[ "$round" = 1 ] || breakdown=(--no-breakdown)
		run "core-$setting-$round" "$setting" -- "$BUILD/bench/bench_core" "${core_args[@]}" \
			"${breakdown[@]}"
		if has_peer ort; then
			run "ort-$setting-$round" "$setting" -- node bench/ort_peer.mjs "${peer_args[@]}"
		fi
		if has_peer torch && [ "$round" = 1 ]; then
			run "torch-$setting-$round" "$setting" -- env OMP_WAIT_POLICY=passive \
				"$PY" bench/torch_peer.py "${peer_args[@]}" --fixtures tests/fixtures/bert \
				tests/fixtures/distilbert tests/fixtures/albert tests/fixtures/mobilebert \
				tests/fixtures/mpnet tests/fixtures/deberta-v2 \
				tests/fixtures/deberta-v2-logbuckets tests/fixtures/modernbert
		fi
		if [[ ",$SHAPES," == *",minilm-l6,"* ]]; then
			run "start-$setting-$round" "$setting" -- "$PY" bench/first_embed.py \
				--bin "$BUILD/server/smolserve" --model "$OUT/minilm-l6" --runs 3 --json
		fi
	done
done

# One long input: ModernBERT-base, BENCH_LONG tokens, its time and peak RSS.
if [ "$LONG" != 0 ] && [[ ",$SHAPES," == *",modernbert-base,"* ]]; then
	run long-unset-1 unset -- "$BUILD/bench/bench_long" --shape modernbert-base --len "$LONG" \
		--runs 1 --threads "$THREADS" --json
fi

echo
"$PY" bench/report.py "$RES" | tee "$RES/table.txt"
