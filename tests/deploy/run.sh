#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Proves the deployment files (Dockerfile, deploy/) with real tools, without a Docker engine or
# a cluster. Run by hand as root on Debian 12 (it apt-get installs what is missing):
#
#   bash tests/deploy/run.sh            # everything (~5-10 min the first time, faster after)
#   bash tests/deploy/run.sh --quick    # without the debootstrap chroots (~1 min)
#
# 1. Dockerfile: parsed and linted; its stages executed in debootstrap chroots of Debian 12 (the
#    base of debian:bookworm-slim): the build stage's RUN in one, then a fresh runtime chroot
#    with only the binary copied in, where the image is run as `docker run` would (user 10001,
#    read-only root, ENTRYPOINT + ENV) and as the Kubernetes pod would (initContainer copy,
#    ConfigMap settings, probes, preStop, SIGTERM drain).
# 2. Prometheus: promtool checks and rule unit tests; a real Prometheus scrapes a running
#    smolserve; the dashboard's and rules' metric names exist; every panel query returns data.
# 3. Kubernetes and KServe manifests: kubernetes-models schema validation, unknown fields,
#    yamllint, kustomize (kubectl when present, and an emulation), the deployment's contract.
# 4. Compose: the Compose Specification schema, dclint, docker-compose config, references.
# 5. Release (tests/deploy/package.sh): one version, the commit in the binary, NOTICE, the
#    generated settings file; the Debian package built (deploy/debian/build.sh) and linted, its
#    unit verified (systemd-analyze) and the binary run under MemoryDenyWriteExecute; in full
#    mode the package installed by apt in a chroot, served from, booted under systemd-nspawn,
#    and `meson dist`'s tarball built and tested from a clean directory.
#
# Every check prints PASS/FAIL/SKIP; the last line is "N passed, N failed"; exit 1 on a failure.
# Caches: deploy/.cache/ (the debootstrap tarball, apt archives), tests/deploy/node_modules/.
# Servers listen on 127.0.0.1 only. Build directory: build-deploy/.
# shellcheck disable=SC2317,SC2016  # helpers run from traps/expect; dpkg and jq formats are literal
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$(pwd)
QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
T0=$(date +%s)
WORK=$(mktemp -d /tmp/smolserve-deploy.XXXXXX)
CACHE="$REPO/deploy/.cache"
TD="$REPO/tests/deploy"
BIN="$REPO/build-deploy/server/smolserve"
SUITE=bookworm
NPASS=0
NFAIL=0
NSKIP=0
MOUNTS=()
PIDS=()

pass() { echo "PASS: $*"; NPASS=$((NPASS + 1)); }
fail() { echo "FAIL: $*"; NFAIL=$((NFAIL + 1)); }
skip() { echo "SKIP: $*"; NSKIP=$((NSKIP + 1)); }
section() { echo; echo "== $* ($(($(date +%s) - T0))s)"; }
indent() { sed 's/^/      /'; }

# expect NAME CMD...: PASS when CMD exits 0, else FAIL with the tail of its output.
expect() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; tail -n 25 <<<"$out" | indent; fi
}

# tally NAME CMD...: CMD prints PASS/FAIL/SKIP lines (tests/deploy/*.mjs); they are counted.
# A non-zero exit without a FAIL line is one more failure.
tally() {
  local name=$1 out rc p f s
  shift
  out=$("$@" 2>&1)
  rc=$?
  echo "$out" | grep -v '^$'
  p=$(grep -c '^PASS: ' <<<"$out")
  f=$(grep -c '^FAIL: ' <<<"$out")
  s=$(grep -c '^SKIP: ' <<<"$out")
  NPASS=$((NPASS + p))
  NFAIL=$((NFAIL + f))
  NSKIP=$((NSKIP + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$name: exit $rc"; fi
}

finish() {
  echo
  echo "$(($(date +%s) - T0))s, $NSKIP skipped"
  echo "$NPASS passed, $NFAIL failed"
  [ "$NFAIL" -eq 0 ]
  exit
}

# Stops what this script started, unmounts what it mounted, then removes $WORK — only once
# nothing is mounted below it any more.
cleanup() {
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null
  done
  if findmnt -rn -o TARGET | grep -q "^$WORK"; then
    echo "warning: mounts left under $WORK; not removing it" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'echo interrupted; exit 130' INT TERM

do_mount() { mount "$@" && MOUNTS+=("${!#}"); }

# forget_pid PID: PID has exited and was waited for; cleanup must not signal it (it may be reused).
forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# start_server LOG CMD...: starts a server in the background, logging to LOG; sets SERVER_PID
# and SERVER_PORT (from its "listening on http://HOST:PORT" line). Not in $(...): the server
# must be a child of this shell.
start_server() {
  local log=$1 i
  shift
  "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_PORT=
  for i in $(seq 100); do
    SERVER_PORT=$(grep -oE 'listening on http://[^ "]+' "$log" | head -n 1 | sed -E 's/.*:([0-9]+)$/\1/')
    [ -n "$SERVER_PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID"; forget_pid "$SERVER_PID"; return 1; }
    sleep 0.1
  done
  return 1
}

# stop_server PID TIMEOUT: SIGTERM, wait; exit status of the server (124: did not stop).
stop_server() {
  local pid=$1 limit=$2 i
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq $((limit * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid"; forget_pid "$pid"; return 124; fi
  wait "$pid"
  local rc=$?
  forget_pid "$pid"
  return $rc
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------------
section "setup"
if [ "$(id -u)" -ne 0 ]; then
  fail "run as root: it installs packages, mounts and chroots"
  finish
fi
missing=()
for p in yamllint prometheus curl jq python3 docker-compose systemd $([ $QUICK -eq 1 ] || echo debootstrap systemd-container); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
expect "build dependencies (deploy/install-deps.sh --test)" bash deploy/install-deps.sh --test
if [ ${#missing[@]} -gt 0 ]; then
  expect "apt-get install ${missing[*]}" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends ${missing[*]} >/dev/null"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  fail "node >= 20 is needed for tests/deploy (have: $(node --version 2>&1))"
  finish
fi
if ! cmp -s "$TD/package-lock.json" "$TD/node_modules/.smolserve-lock" 2>/dev/null; then
  expect "npm ci (tests/deploy: $(jq -r '.dependencies | keys | join(", ")' "$TD/package.json"))" \
    bash -c "cd '$TD' && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.smolserve-lock"
fi
if [ ! -f build-deploy/build.ninja ]; then meson setup build-deploy >"$WORK/meson.log" 2>&1 || cat "$WORK/meson.log"; fi
expect "smolserve builds (build-deploy/)" ninja -C build-deploy server/smolserve
if [ ! -x "$BIN" ]; then finish; fi
export SMOLSERVE_BIN="$BIN"

# ---------------------------------------------------------------------------------------------
section "1. Dockerfile"
tally "check-dockerfile" node "$TD/check-dockerfile.mjs" lint
expect "shellcheck deploy/docker/*.sh deploy/debian/build.sh tests/deploy/run.sh tests/deploy/package.sh" \
  bash -c 'command -v shellcheck >/dev/null || { echo "no shellcheck"; exit 0; }; shellcheck -x deploy/docker/*.sh deploy/debian/build.sh tests/deploy/run.sh tests/deploy/package.sh'

# Debian's mirror as this machine's apt uses it.
mirror() {
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources
  else
    awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list
  fi
}

# The base of every stage: debootstrap minbase of Debian 12, with the apt sources of this
# machine (bookworm, -updates, -security, as debian:bookworm-slim has), cached as a tarball.
make_base() {
  local tarball=$1 url root
  url=$(mirror)
  root="$WORK/debootstrap"
  debootstrap --variant=minbase "$SUITE" "$root" "$url" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log"; return 1; }
  rm -f "$root/etc/apt/sources.list"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
  else
    grep -E '^deb .*(bookworm|bookworm-updates|bookworm-security) ' /etc/apt/sources.list >"$root/etc/apt/sources.list"
  fi
  mkdir -p "$(dirname "$tarball")"
  tar -C "$root" --numeric-owner -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
}

# new_root DIR: a fresh stage root from the base tarball, with /proc, DNS and the apt cache.
new_root() {
  local root=$1
  mkdir -p "$root" "$CACHE/apt-archives"
  tar -C "$root" --numeric-owner -xzf "$BASE_TAR" || return 1
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  do_mount -t proc proc "$root/proc" &&
    do_mount --bind "$CACHE/apt-archives" "$root/var/cache/apt/archives"
}

unmount_under() {
  local root=$1 i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    case "${MOUNTS[i]}" in
      "$root"|"$root"/*) umount "${MOUNTS[i]}" && unset 'MOUNTS[i]' ;;
    esac
  done
  MOUNTS=("${MOUNTS[@]}")
}

CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# run_stage INDEX ROOT: executes the steps of stage INDEX of the Dockerfile plan in ROOT.
run_stage() {
  local idx=$1 root=$2 n i op workdir=/ dest src from env_args=() k
  n=$(jq ".stages[$idx].steps | length" "$WORK/plan.json")
  for ((i = 0; i < n; i++)); do
    op=$(jq -r ".stages[$idx].steps[$i].op" "$WORK/plan.json")
    case "$op" in
      workdir)
        workdir=$(jq -r ".stages[$idx].steps[$i].path" "$WORK/plan.json")
        mkdir -p "$root$workdir" ;;
      env)
        while IFS= read -r k; do env_args+=("$k"); done < <(jq -r ".stages[$idx].steps[$i].vars | to_entries[] | \"\(.key)=\(.value)\"" "$WORK/plan.json") ;;
      copy)
        from=$(jq -r ".stages[$idx].steps[$i].from // empty" "$WORK/plan.json")
        dest=$(jq -r ".stages[$idx].steps[$i].dest" "$WORK/plan.json")
        case "$dest" in /*) ;; *) dest="$workdir/$dest" ;; esac
        while IFS= read -r src; do
          if [ -n "$from" ]; then
            [ -n "${STAGE_ROOT[$from]:-}" ] || { echo "COPY --from=$from: no such stage"; return 1; }
            if [[ "$dest" == */ ]]; then mkdir -p "$root$dest"; cp -a "${STAGE_ROOT[$from]}$src" "$root$dest";
            else mkdir -p "$(dirname "$root$dest")"; cp -a "${STAGE_ROOT[$from]}$src" "$root$dest"; fi
          elif [ "$src" = "." ]; then
            mkdir -p "$root$dest"
            tar --create --file=- --null --no-recursion --directory="$REPO" --files-from="$WORK/context.lst" |
              tar --extract --file=- --no-same-owner --directory="$root$dest" || return 1
          else
            if [[ "$dest" == */ ]]; then mkdir -p "$root$dest"; cp "$REPO/$src" "$root$dest";
            else mkdir -p "$(dirname "$root$dest")"; cp "$REPO/$src" "$root$dest"; fi
          fi
        done < <(jq -r ".stages[$idx].steps[$i].src[]" "$WORK/plan.json") ;;
      run)
        echo "RUN $(jq -r ".stages[$idx].steps[$i].cmd" "$WORK/plan.json")"
        env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${env_args[@]}" \
          chroot "$root" /bin/sh -c 'cd "$1" && exec /bin/sh -c "$2"' sh "$workdir" \
          "$(jq -r ".stages[$idx].steps[$i].cmd" "$WORK/plan.json")" || return 1 ;;
      *) echo "unknown step $op"; return 1 ;;
    esac
  done
}

# The image's environment (Dockerfile ENV) plus OPENBLAS_* of this machine, as env arguments.
image_env() {
  jq -r '.final.env | to_entries[] | "\(.key)=\(.value)"' "$WORK/plan.json"
  env | grep -E '^OPENBLAS_(CORETYPE|L2_SIZE)=' || true
}

declare -A STAGE_ROOT=()
if [ $QUICK -eq 1 ]; then
  skip "Dockerfile stages in debootstrap chroots: --quick"
else
  node "$TD/check-dockerfile.mjs" plan >"$WORK/plan.json" 2>"$WORK/plan.err" || cat "$WORK/plan.err"
  node "$TD/check-dockerfile.mjs" context | tr '\0' '\n' | grep -v '^$' | tr '\n' '\0' >"$WORK/context.lst"
  node "$TD/check-manifests.mjs" --pod-plan >"$WORK/pod.json"
  BASE_TAR="$CACHE/$SUITE-minbase-$(dpkg --print-architecture).tar.gz"
  if [ -f "$BASE_TAR" ]; then
    pass "debootstrap base (cached: ${BASE_TAR#"$REPO"/})"
  else
    expect "debootstrap --variant=minbase $SUITE from $(mirror) (cached in ${BASE_TAR#"$REPO"/})" make_base "$BASE_TAR"
  fi
  nstages=$(jq '.stages | length' "$WORK/plan.json" 2>/dev/null || echo 0)
  if [ -f "$BASE_TAR" ] && [ "$nstages" -ge 2 ]; then
    # Every stage in its own fresh root; only the last one is the image.
    stage_ok=1
    for ((s = 0; s < nstages; s++)); do
      name=$(jq -r ".stages[$s].name" "$WORK/plan.json")
      root="$WORK/stage-$name"
      STAGE_ROOT[$name]=$root
      t=$(date +%s)
      if new_root "$root" && chroot "$root" dpkg-query -W -f='${Package}\n' >"$WORK/pkgs-$name" &&
        run_stage "$s" "$root" >"$WORK/stage-$name.log" 2>&1; then
        pass "stage $name: $(jq -r "[.stages[$s].steps[] | select(.op == \"run\") | .cmd] | join(\"; \")" "$WORK/plan.json") ($(($(date +%s) - t))s)"
      else
        fail "stage $name"; tail -n 30 "$WORK/stage-$name.log" | indent; stage_ok=0; break
      fi
      [ "$s" -lt $((nstages - 1)) ] && unmount_under "$root"
    done
    RT=${STAGE_ROOT[$name]}
    if [ $stage_ok -eq 1 ]; then
      unmount_under "$RT"
      build_root=${STAGE_ROOT[$(jq -r '.stages[0].name' "$WORK/plan.json")]}
      expect "build stage: the binary it built runs (smolserve --version)" chroot "$build_root" /opt/smolserve/bin/smolserve --version
      # What the runtime stage adds to the base image (debian:bookworm-slim in Docker).
      chroot "$RT" dpkg-query -W -f='${Installed-Size}\t${Package}\n' |
        awk -F'\t' 'NR == FNR {base[$1] = 1; next} !($2 in base) {kb += $1; n++; names = names " " $2}
          END {printf "      runtime stage adds %d packages, %.0f MiB installed:%s\n", n, kb / 1024, names}' \
          "$WORK/pkgs-$(jq -r '.stages[-1].name' "$WORK/plan.json")" -
      echo "      plus the binary: $(du -k "$RT/usr/local/bin/smolserve" | cut -f1) KiB"
      expect "runtime: ldd finds every library of /usr/local/bin/smolserve" \
        bash -c "out=\$(chroot '$RT' ldd /usr/local/bin/smolserve) && echo \"\$out\" && ! grep -q 'not found' <<<\"\$out\""
      expect "runtime: no compiler, no curl, no -dev package, no apt lists" \
        bash -c "! chroot '$RT' sh -c 'command -v gcc || command -v cc || command -v curl || dpkg -l | grep -E \"^ii +[^ ]+-dev\" || ls /var/lib/apt/lists/*_Packages' "
      expect "runtime: user 10001 (no shell), /models, the health check script" \
        bash -c "chroot '$RT' getent passwd 10001 | grep -q ':/usr/sbin/nologin$' && test -d '$RT/models' && test -x '$RT/usr/local/bin/smolserve-healthcheck'"
      for cmd in "$(jq -r '.server.preStop[0]' "$WORK/pod.json")" "$(jq -r '.init.command[0]' "$WORK/pod.json")" mkdir cp; do
        expect "runtime: \`$cmd\` exists for user 10001 (preStop / initContainer)" \
          env -i PATH="$CHROOT_PATH" chroot --userspec=10001:10001 "$RT" sh -c "command -v $cmd"
      done

      # The model and the "model image" folder, then the root read-only (readOnlyRootFilesystem).
      mkdir -p "$RT/models/bert" "$RT/model"
      cp -r tests/fixtures/bert/. "$RT/models/bert/"
      cp -r tests/fixtures/bert/. "$RT/model/"
      chmod -R a+rX "$RT/models" "$RT/model"
      do_mount --bind "$RT" "$RT" && mount -o remount,bind,ro "$RT" && do_mount -t proc proc "$RT/proc"
      expect "runtime root is read-only for the run" bash -c "! touch '$RT/x' 2>/dev/null"
      mapfile -t IENV < <(image_env)
      mapfile -t ENTRY < <(jq -r '.final.entrypoint[]' "$WORK/plan.json")

      # docker run -v .../bert:/models/bert -e MODEL_ID=/models/bert smolserve --hostname 127.0.0.1
      # Docker sets HOSTNAME to the container id: the ENTRYPOINT's --hostname must win over it.
      log="$WORK/run-docker.log"
      if start_server "$log" env -i PATH="$CHROOT_PATH" HOME=/nonexistent HOSTNAME=3f9c2a1b7d4e \
        "${IENV[@]}" MODEL_ID=/models/bert chroot --userspec=10001:10001 "$RT" "${ENTRY[@]}" \
        --hostname 127.0.0.1 --port 0; then
        pid=$SERVER_PID port=$SERVER_PORT
        pass "docker run: ENTRYPOINT as user 10001 on a read-only root, model from /models/bert (port $port)"
        for i in $(seq 100); do [ "$(http_code "127.0.0.1:$port/health")" = 200 ] && break; sleep 0.1; done
        expect "docker run: GET /health is 200" test "$(http_code "127.0.0.1:$port/health")" = 200
        expect "docker run: POST /embed returns one 64-dim embedding" bash -c \
          "curl -sf -m 10 127.0.0.1:$port/embed -H 'Content-Type: application/json' -d '{\"inputs\": \"Hello from the chroot\"}' | jq -e 'length == 1 and (.[0] | length) == 64'"
        expect "docker run: /info shows the image's ENV settings (MAX_BATCH_TOKENS, SHUTDOWN_TIMEOUT_S)" bash -c \
          "curl -sf 127.0.0.1:$port/info | jq -e '.max_batch_tokens == $(jq -r .final.env.MAX_BATCH_TOKENS "$WORK/plan.json") and .shutdown_timeout_s == $(jq -r .final.env.SHUTDOWN_TIMEOUT_S "$WORK/plan.json")'"
        if [ "$(jq -r .final.env.JSON_OUTPUT "$WORK/plan.json")" = true ]; then
          expect "docker run: JSON_OUTPUT=true logs the request as a JSON line" bash -c "grep '^{' '$log' | tail -n 1 | jq -e ."
        fi
        # No volume at /data and a read-only root: no layout cache, said at info level, no warning.
        expect "docker run: on a read-only root the layout cache is off (an info line, no warning)" bash -c \
          "curl -sf 127.0.0.1:$port/info | jq -e '.layout_cache == \"off\"' >/dev/null &&
           grep -q 'layout cache: off (cannot create /data/layout' '$log' && ! grep -qi 'warn.*layout' '$log'"
        mapfile -t HC < <(jq -r '.final.healthcheck.cmd[]' "$WORK/plan.json")
        expect "HEALTHCHECK ${HC[*]} exits 0 against the running server" \
          env -i PATH="$CHROOT_PATH" PORT="$port" chroot --userspec=10001:10001 "$RT" "${HC[@]}"
        t=$(date +%s)
        stop_server "$pid" 35
        rc=$?
        expect "docker stop: SIGTERM drains and exits 0 (exit $rc, $(($(date +%s) - t))s)" test "$rc" -eq 0
        expect "HEALTHCHECK exits 1 once the server is gone" \
          bash -c "! env -i PATH='$CHROOT_PATH' PORT='$port' chroot --userspec=10001:10001 '$RT' ${HC[*]}"
        # A stand-in answering 503, as /health does while the model loads.
        fport=$(free_port)
        python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.recv(4096)
c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"); c.close()' "$fport" &
        fpid=$!
        PIDS+=("$fpid")
        sleep 0.3
        expect "HEALTHCHECK exits 1 on a 503 answer" \
          bash -c "! env -i PATH='$CHROOT_PATH' PORT='$fport' chroot --userspec=10001:10001 '$RT' ${HC[*]}"
        stop_server "$fpid" 5 >/dev/null
      else
        fail "docker run: the server did not start"; indent <"$log"
      fi
      expect "why the ENTRYPOINT passes --hostname: HOSTNAME=<container id> alone is refused" bash -c \
        "out=\$(env -i PATH='$CHROOT_PATH' HOSTNAME=3f9c2a1b7d4e MODEL_ID=/models/bert timeout 10 chroot --userspec=10001:10001 '$RT' smolserve serve --port 0 2>&1); \
         rc=\$?; echo \"\$out\"; [ \$rc -eq 2 ] && grep -q 3f9c2a1b7d4e <<<\"\$out\""

      # The Kubernetes pod (deploy/k8s as built): the initContainer copies the model into an
      # emptyDir (fsGroup 10001), mounted read-only into the server with the ConfigMap's settings.
      ED="$WORK/emptydir"
      mkdir -p "$ED" && chown 10001:10001 "$ED"
      do_mount --bind "$ED" "$RT/models"
      mapfile -t INIT < <(jq -r '.init.command[]' "$WORK/pod.json")
      expect "pod: initContainer \`${INIT[*]}\` (user 10001, read-only root)" \
        env -i PATH="$CHROOT_PATH" HOME=/nonexistent chroot --userspec=10001:10001 "$RT" "${INIT[@]}"
      expect "pod: the emptyDir holds the model folder" test -f "$ED/model/config.json" -a -f "$ED/model/model.safetensors"
      mount -o remount,bind,ro "$RT/models"
      mapfile -t PENV < <(jq -r '.server.env | to_entries[] | "\(.key)=\(.value)"' "$WORK/pod.json")
      log="$WORK/run-pod.log"
      mapfile -t PARGS < <(jq -r '.server.args[]' "$WORK/pod.json")
      if start_server "$log" env -i PATH="$CHROOT_PATH" HOME=/nonexistent HOSTNAME=smolserve-6d5f7c9b8-x2k4q \
        "${IENV[@]}" "${PENV[@]}" chroot --userspec=10001:10001 "$RT" "${ENTRY[@]}" \
        "${PARGS[@]}" --hostname 127.0.0.1 --port 0; then
        pid=$SERVER_PID port=$SERVER_PORT
        pass "pod: server starts with the ConfigMap settings, model read-only at $(jq -r .server.env.MODEL_ID "$WORK/pod.json")"
        sp=$(jq -r .server.probes.startup "$WORK/pod.json")
        for i in $(seq 100); do [ "$(http_code "127.0.0.1:$port$sp")" = 200 ] && break; sleep 0.1; done
        for probe in startup readiness liveness; do
          path=$(jq -r ".server.probes.$probe" "$WORK/pod.json")
          expect "pod: $probe probe GET $path is 200" test "$(http_code "127.0.0.1:$port$path")" = 200
        done
        expect "pod: /info shows WORKERS x BLAS_THREADS from the ConfigMap" bash -c \
          "curl -sf 127.0.0.1:$port/info | jq -e '.workers == $(jq -r .server.env.WORKERS "$WORK/pod.json") and .blas_threads == $(jq -r .server.env.BLAS_THREADS "$WORK/pod.json")'"
        expect "pod: POST /embed through the pod's server" bash -c \
          "curl -sf -m 10 127.0.0.1:$port/embed -H 'Content-Type: application/json' -d '{\"inputs\": [\"a\", \"b\"]}' | jq -e 'length == 2'"
        mapfile -t PRE < <(jq -r '.server.preStop[]' "$WORK/pod.json")
        t=$(date +%s)
        expect "pod: preStop \`${PRE[*]}\` runs in the image" \
          env -i PATH="$CHROOT_PATH" chroot --userspec=10001:10001 "$RT" "${PRE[@]}"
        expect "pod: still ready after preStop (drain starts only at SIGTERM)" test "$(http_code "127.0.0.1:$port/health")" = 200
        stop_server "$pid" 35
        rc=$?
        expect "pod: SIGTERM drains and exits 0 within the grace period ($(($(date +%s) - t))s with preStop)" test "$rc" -eq 0
      else
        fail "pod: the server did not start"; indent <"$log"
      fi
    fi
    unmount_under "$WORK"
  fi
fi

# ---------------------------------------------------------------------------------------------
section "2. Prometheus and Grafana"
expect "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
if promtool check config deploy/prometheus/prometheus-kubernetes.yml >"$WORK/k8s-promtool.log" 2>&1; then
  pass "promtool check config deploy/prometheus/prometheus-kubernetes.yml"
elif grep -q 'kubernetes_sd_configs not found' "$WORK/k8s-promtool.log"; then
  # Debian's Prometheus is built without Kubernetes discovery: check the rest of the file.
  cp deploy/prometheus/smolserve-rules.yml "$WORK/"
  sed 's/^\( *\)kubernetes_sd_configs:/\1static_configs:/; s/^\( *\)- role: pod$/\1- targets: ["pod:3000"]/' \
    deploy/prometheus/prometheus-kubernetes.yml >"$WORK/prometheus-kubernetes.yml"
  expect "promtool check config prometheus-kubernetes.yml (kubernetes_sd_configs swapped for static_configs: Debian's promtool lacks Kubernetes discovery)" \
    promtool check config "$WORK/prometheus-kubernetes.yml"
else
  fail "promtool check config deploy/prometheus/prometheus-kubernetes.yml"; indent <"$WORK/k8s-promtool.log"
fi
expect "promtool check rules deploy/prometheus/*rules*.yml" bash -c 'promtool check rules deploy/prometheus/*rules*.yml'
expect "promtool test rules tests/deploy/prometheus/rules.test.yml (every alert fires and stays quiet)" \
  promtool test rules tests/deploy/prometheus/rules.test.yml

log="$WORK/smolserve-prom.log"
if start_server "$log" "$BIN" serve --model tests/fixtures/bert --hostname 127.0.0.1 --port 0; then
  spid=$SERVER_PID port=$SERVER_PORT
  j='Content-Type: application/json'
  for i in $(seq 20); do curl -s -o /dev/null "127.0.0.1:$port/embed" -H "$j" -d '{"inputs": ["one", "two"]}'; done
  curl -s -o /dev/null "127.0.0.1:$port/tokenize" -H "$j" -d '{"inputs": "hello"}'
  curl -s -o /dev/null "127.0.0.1:$port/embed" -H "$j" -d '{"inputs": 3}'
  curl -s -o /dev/null "127.0.0.1:$port/nope"
  curl -s "127.0.0.1:$port/metrics" >"$WORK/metrics.txt"
  pport=$(free_port)
  mkdir -p "$WORK/prom"
  (cd "$TD" && node lib/prom-config.mjs "$port" "$WORK/prom/prometheus.yml")
  prometheus --config.file="$WORK/prom/prometheus.yml" --web.listen-address="127.0.0.1:$pport" \
    --storage.tsdb.path="$WORK/prom/data" >"$WORK/prom/log" 2>&1 &
  ppid=$!
  PIDS+=("$ppid")
  prom="http://127.0.0.1:$pport"
  q() { curl -sf -m 5 "$prom/api/v1/query" --data-urlencode "query=$1"; }
  ok=0
  for i in $(seq 150); do
    # Three scrapes, so rate() over the dashboard's windows has data.
    n=$(q 'count_over_time(te_request_count{smolserve_route="embed"}[1m])' | jq -r '.data.result[0].value[1] // 0' 2>/dev/null)
    [ "${n:-0}" -ge 4 ] 2>/dev/null && { ok=1; break; }
    sleep 0.2
  done
  if [ $ok -eq 1 ]; then pass "prometheus on 127.0.0.1:$pport scrapes smolserve on 127.0.0.1:$port: te_request_count has samples"
  else fail "prometheus did not scrape smolserve"; tail -n 20 "$WORK/prom/log" | indent; fi
  for i in $(seq 20); do curl -s -o /dev/null "127.0.0.1:$port/embed" -H "$j" -d '{"inputs": "three"}'; done
  sleep 3
  expect "GET /api/v1/query?query=te_request_count returns the series (embed: 40 requests)" bash -c \
    "curl -sf '$prom/api/v1/query?query=te_request_count' | jq -e '[.data.result[] | select(.metric.smolserve_route == \"embed\" and .metric.job == \"smolserve\") | .value[1] | tonumber] | add >= 40'"
  expect "prometheus loaded the 7 alerting rules and evaluates them without error" bash -c \
    "curl -sf '$prom/api/v1/rules' | jq -e '[.data.groups[].rules[] | select(.type == \"alerting\" and .health == \"ok\")] | length == 7'"
  tally "check-metrics" bash -c "cd '$TD' && node check-metrics.mjs --metrics '$WORK/metrics.txt' --prom '$prom'"
  stop_server "$spid" 10 >/dev/null
  stop_server "$ppid" 20 >/dev/null
else
  fail "smolserve did not start for the Prometheus checks"; indent <"$log"
fi

# ---------------------------------------------------------------------------------------------
section "3. Kubernetes and KServe manifests"
expect "yamllint -c deploy/.yamllint.yaml deploy tests/deploy" yamllint -c deploy/.yamllint.yaml deploy tests/deploy
kargs=()
if command -v kubectl >/dev/null; then
  if kubectl kustomize deploy/k8s >"$WORK/kustomize-base.yaml" 2>"$WORK/kustomize.err"; then
    pass "kubectl kustomize deploy/k8s ($(kubectl version --client 2>/dev/null | grep -i kustomize))"
    kargs+=(--kubectl-base "$WORK/kustomize-base.yaml")
  else
    fail "kubectl kustomize deploy/k8s"; indent <"$WORK/kustomize.err"
  fi
  if kubectl kustomize deploy/k8s-model-pvc >"$WORK/kustomize-pvc.yaml" 2>"$WORK/kustomize.err"; then
    pass "kubectl kustomize deploy/k8s-model-pvc"
    kargs+=(--kubectl-pvc "$WORK/kustomize-pvc.yaml")
  else
    fail "kubectl kustomize deploy/k8s-model-pvc"; indent <"$WORK/kustomize.err"
  fi
else
  skip "kubectl kustomize: no kubectl (Debian 12's kubernetes-client is 1.20, too old for kustomize v5 files); the emulation builds the base"
fi
tally "check-manifests" node "$TD/check-manifests.mjs" "${kargs[@]}"

# ---------------------------------------------------------------------------------------------
section "4. Compose"
tally "check-compose" node "$TD/check-compose.mjs"
expect "dclint deploy/compose.yaml (Compose schema and lint rules)" bash -c "cd '$TD' && npx --no-install dclint '$REPO/deploy/compose.yaml'"
if command -v docker-compose >/dev/null; then
  # docker-compose 1.29 (Debian 12) predates the top-level `name:` of Compose v2: drop it.
  expect "docker-compose config -q (1.29, Debian's; without the top-level name:)" bash -c \
    "cd deploy && grep -v '^name:' compose.yaml | docker-compose -f - config -q"
else
  skip "docker-compose config: not installed"
fi

# ---------------------------------------------------------------------------------------------
# shellcheck source=tests/deploy/package.sh
source "$TD/package.sh"

finish
