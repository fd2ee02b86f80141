# SPDX-License-Identifier: Apache-2.0
# Section 5 of tests/deploy/run.sh (sourced by it, after the other sections: it uses run.sh's
# helpers and variables): what makes a release — one version everywhere, the git commit in the
# binary, NOTICE naming every linked library, the generated settings file, the Debian package
# (deploy/debian/build.sh: dpkg-buildpackage + lintian) and its systemd unit.
#
# --quick (CI): build the package without its test suite, lint it, check its files, verify the
#   unit with systemd-analyze (verify, security --offline), and run the packaged binary under
#   the kernel's MemoryDenyWriteExecute rule (PR_SET_MDWE), which the unit sets.
# full: also install the package with apt into a fresh Debian 12 chroot (Depends resolved from
#   the mirror) and serve a fixture from /usr/bin/smolserve there; boot that root with
#   systemd-nspawn so the real systemd runs the unit with every sandbox setting, and check the
#   sandbox, the drain on stop and Restart=on-failure; build `meson dist`'s tarball and test it
#   from a clean directory, and build the package from it.
# shellcheck shell=bash disable=SC2154,SC2016,SC2034  # run.sh sets BIN, WORK...; dpkg formats are literal; loop counters

# serve_check LABEL LOG CMD...: starts the server CMD (as start_server does, on a
# tests/fixtures/bert model) and checks, as LABEL: /health turns 200, POST /embed returns one
# 64-dim vector, /info reports $VERSION and $SHA_JSON, and SIGTERM drains and exits 0.
serve_check() {
  local label=$1 log=$2 pid port i
  shift 2
  if ! start_server "$log" "$@"; then
    fail "$label: the server did not start"; indent <"$log"; return 1
  fi
  pid=$SERVER_PID port=$SERVER_PORT
  for i in $(seq 100); do [ "$(http_code "127.0.0.1:$port/health")" = 200 ] && break; sleep 0.1; done
  expect "$label: GET /health is 200 (port $port)" test "$(http_code "127.0.0.1:$port/health")" = 200
  expect "$label: POST /embed returns one 64-dim embedding" bash -c \
    "curl -sf -m 10 127.0.0.1:$port/embed -H 'Content-Type: application/json' -d '{\"inputs\": \"Hello\"}' | jq -e 'length == 1 and (.[0] | length) == 64'"
  expect "$label: /info reports version $VERSION and sha $SHA_JSON" bash -c \
    "curl -sf 127.0.0.1:$port/info | jq -e '.version == \"$VERSION\" and .sha == $SHA_JSON'"
  stop_server "$pid" 35
  expect "$label: SIGTERM drains and exits 0" test $? -eq 0
}

section "5. Release: version, licence, Debian package, systemd unit"
VERSION=$(meson introspect --projectinfo build-deploy | jq -r .version)
if [ -e .git ] && git rev-parse HEAD >/dev/null 2>&1; then
  COMMIT=$(git describe --always --dirty --abbrev=40 --exclude='*')
elif [ -f .commit ]; then
  COMMIT=$(cat .commit)
else
  COMMIT=unknown
fi
SHA_JSON=$([ "$COMMIT" = unknown ] && echo null || echo "\"$COMMIT\"")

expect "one version, $VERSION: meson.build = debian/changelog = CHANGELOG.md's newest release" bash -c \
  "[ \"\$(dpkg-parsechangelog -S Version)\" = '$VERSION' ] &&
   [ \"\$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)\" = '$VERSION' ] &&
   grep -q '^## \[Unreleased\]' CHANGELOG.md"
expect "smolserve --version and -V: $VERSION, commit $COMMIT" bash -c \
  "'$BIN' --version | grep -qxF 'smolserve $VERSION (commit $COMMIT; OpenBLAS $("$BIN" --version | sed -n 's/.*OpenBLAS \(.*\) kernels)$/\1/p') kernels)' &&
   [ \"\$('$BIN' -V)\" = \"\$('$BIN' --version)\" ]"
log="$WORK/release-server.log"
serve_check "build-deploy/server/smolserve" "$log" "$BIN" serve --model tests/fixtures/bert --hostname 127.0.0.1 --port 0 &&
  expect "the start line names version and commit" grep -qF "smolserve $VERSION (commit $COMMIT): " "$log"
expect "LICENSE is the Apache License 2.0 text" cmp LICENSE /usr/share/common-licenses/Apache-2.0
# Every source file says its licence in its header (the fixtures' data files and JSON cannot).
expect "every source file's header carries SPDX-License-Identifier: Apache-2.0" bash -c \
  "missing=\$(git ls-files '*.c' '*.h' '*.sh' '*.py' '*.mjs' '*.lua' '*meson.build' Dockerfile .ci/run |
     grep -v '/corpus/' | while read -r f; do head -n 3 \"\$f\" | grep -q 'SPDX-License-Identifier: Apache-2.0' || echo \"\$f\"; done);
    [ -z \"\$missing\" ] || { echo \"no SPDX line: \$missing\"; exit 1; }"
# Every DT_NEEDED library of the binary is named in NOTICE (a new dependency must be added there).
expect "NOTICE names every library the binary links ($(objdump -p "$BIN" | awk '/NEEDED/ {print $2}' | tr '\n' ' '))" \
  bash -c "missing=\$(objdump -p '$BIN' | awk '/NEEDED/ {print \$2}' | while read -r so; do grep -qF \"\$so\" NOTICE || echo \"\$so\"; done);
    [ -z \"\$missing\" ] || { echo \"not in NOTICE: \$missing\"; exit 1; }"

# --print-config: every option of --help, commented out at its default; uncommented, accepted.
"$BIN" --print-config >"$WORK/example.conf"
expect "--print-config lists every option of --help (but --config) as '#name = default'" bash -c \
  "for f in \$('$BIN' --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' | grep -vx config); do
     grep -qE \"^#\$f =\" '$WORK/example.conf' || { echo \"missing: \$f\"; exit 1; }; done"
sed -nE 's/^#([a-z0-9-]+ = .+)$/\1/p' "$WORK/example.conf" >"$WORK/active.conf"
expect "the example with every default uncommented ($(wc -l <"$WORK/active.conf") lines) is a valid settings file" \
  bash -c "echo '{\"inputs\": \"hi\"}' | '$BIN' run tokenize --config '$WORK/active.conf' --model tests/fixtures/bert >/dev/null"

# The package.
DEB_OPTS=$([ "$QUICK" -eq 1 ] && echo nocheck)
t=$(date +%s)
if DEB_BUILD_OPTIONS="$DEB_OPTS" bash deploy/debian/build.sh "$WORK/deb" >"$WORK/deb-build.log" 2>&1; then
  pass "deploy/debian/build.sh: dpkg-buildpackage -us -uc -b${DEB_OPTS:+ ($DEB_OPTS)}, lintian without errors ($(($(date +%s) - t))s)"
else
  fail "deploy/debian/build.sh"; tail -n 40 "$WORK/deb-build.log" | indent
fi
DEB="$WORK/deb/smolserve_${VERSION}_$(dpkg --print-architecture).deb"
if [ -f "$DEB" ]; then
  echo "      lintian tags (I: information, P: pedantic; README, Debian package):"
  grep -E '^[EWIPX]: ' "$WORK/deb/lintian.txt" | indent
  grep -qE '^[EWIPX]: ' "$WORK/deb/lintian.txt" || echo "      (none)"
  expect "lintian: no errors and no warnings" bash -c "! grep -E '^[EW]: ' '$WORK/deb/lintian.txt'"
  dpkg-deb -f "$DEB" Depends | sed 's/^/      Depends: /'
  expect "Depends computed from the shared libraries (shlibs), none left unresolved" bash -c \
    "d=\$(dpkg-deb -f '$DEB' Depends); grep -q 'libc6' <<<\"\$d\" && ! grep -qF '\${' <<<\"\$d\""
  dpkg-deb -c "$DEB" | awk '{print $6}' >"$WORK/deb-files"
  expect "the package holds the binary, settings file, unit, man page and docs" bash -c \
    "for f in ./usr/bin/smolserve ./etc/smolserve/smolserve.conf ./lib/systemd/system/smolserve.service \
       ./usr/share/man/man1/smolserve.1.gz ./usr/share/doc/smolserve/README.md.gz \
       ./usr/share/doc/smolserve/NOTICE ./usr/share/doc/smolserve/copyright ./usr/share/doc/smolserve/changelog.gz; do
       grep -qxF \"\$f\" '$WORK/deb-files' || { echo \"missing \$f\"; exit 1; }; done"
  X="$WORK/deb-x"
  mkdir -p "$X/DEBIAN"
  dpkg-deb -x "$DEB" "$X" && dpkg-deb -e "$DEB" "$X/DEBIAN"
  expect "/etc/smolserve/smolserve.conf is a conffile and what --print-config prints" bash -c \
    "grep -qx /etc/smolserve/smolserve.conf '$X/DEBIAN/conffiles' && cmp '$X/etc/smolserve/smolserve.conf' '$WORK/example.conf'"
  expect "the packaged binary reports $VERSION and the commit" bash -c \
    "'$X/usr/bin/smolserve' --version | grep -qF 'smolserve $VERSION (commit $COMMIT;'"

  # The unit, as systemd reads it (ExecStart pointed at the extracted binary; the man page is
  # not installed on this machine). systemd-analyze verify exits 0 on unknown keys and bad
  # values, so any output at all is a failure.
  UNIT="$X/lib/systemd/system/smolserve.service"
  mkdir -p "$WORK/unit"
  sed "s|/usr/bin/smolserve|$X/usr/bin/smolserve|" "$UNIT" >"$WORK/unit/smolserve.service"
  expect "systemd-analyze verify smolserve.service: no warnings" bash -c \
    "out=\$(systemd-analyze verify --man=no '$WORK/unit/smolserve.service' 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
  score=$(systemd-analyze security --offline=true "$WORK/unit/smolserve.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for smolserve.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
  expect "systemd-analyze security --offline: exposure ${score:-?} (at most 1.5 of 10)" \
    systemd-analyze security --offline=true --threshold=15 "$WORK/unit/smolserve.service"
  for key in DynamicUser=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
    CapabilityBoundingSet= RestrictAddressFamilies= SystemCallFilter=@system-service \
    MemoryDenyWriteExecute=yes CacheDirectory=smolserve StateDirectory=smolserve Restart=on-failure \
    KillSignal=SIGTERM; do
    grep -q "^$key" "$UNIT" || fail "unit: no $key"
  done
  drain=$("$BIN" --print-config | sed -n 's/^#shutdown-timeout-s = //p')
  stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s*$/\1/p' "$UNIT")
  expect "unit: TimeoutStopSec=${stop_s}s outlasts the ${drain}s drain (shutdown-timeout-s)" test "${stop_s:-0}" -gt "${drain:-0}"

  # MemoryDenyWriteExecute=yes: the packaged binary serves under the kernel's equivalent rule
  # (PR_SET_MDWE, Linux >= 6.3, inherited across exec), once the rule is shown to bite. A
  # library that generates code at run time (oneDNN's JIT) fails here: then the unit needs
  # MemoryDenyWriteExecute=no.
  cat >"$WORK/mdwe.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.stderr.write("PR_SET_MDWE: %s\n" % os.strerror(ctypes.get_errno()))
    sys.exit(77)
os.execvp(sys.argv[1], sys.argv[1:])
EOF
  python3 "$WORK/mdwe.py" true 2>/dev/null
  if [ $? -eq 77 ]; then
    skip "MemoryDenyWriteExecute emulation: this kernel ($(uname -r)) has no PR_SET_MDWE (Linux >= 6.3); the full run checks it under systemd"
  else
    expect "MDWE rule bites: a writable+executable mapping is refused" bash -c \
      "! python3 '$WORK/mdwe.py' python3 -c 'import mmap; mmap.mmap(-1, 4096, prot=7)' 2>/dev/null"
    serve_check "packaged binary under MDWE (OpenBLAS needs no writable code)" "$WORK/mdwe-server.log" \
      python3 "$WORK/mdwe.py" "$X/usr/bin/smolserve" serve --model tests/fixtures/bert --hostname 127.0.0.1 --port 0
  fi
fi

# ---- full mode: the package in a Debian 12 chroot, under systemd, and the source tarball ----
# nspawn_exec CMD...: runs CMD inside the booted container (all its namespaces).
nspawn_exec() { nsenter -t "$NS_INIT" -a "$@"; }
# nspawn_curl ARGS...: this machine's curl in the container's network namespace (loopback only).
nspawn_curl() { nsenter -t "$NS_INIT" -n curl -s -m 10 "$@"; }

# boot_check ROOT: boots ROOT (smolserve installed and enabled, systemd in it) with
# systemd-nspawn on a private network and checks the unit as systemd runs it.
boot_check() {
  local root=$1 nspawn_pid i main t
  systemd-nspawn -q -D "$root" --boot --private-network --register=no --keep-unit \
    --console=passive --machine=smolserve-test >"$WORK/nspawn.log" 2>&1 &
  nspawn_pid=$!
  PIDS+=("$nspawn_pid")
  NS_INIT=
  for i in $(seq 300); do
    NS_INIT=$(pgrep -P "$nspawn_pid" -x systemd | head -n 1)
    [ -n "$NS_INIT" ] && nspawn_exec systemctl is-active -q smolserve 2>/dev/null &&
      [ "$(nspawn_curl -o /dev/null -w '%{http_code}' 127.0.0.1:3000/health)" = 200 ] && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$NS_INIT" ] || ! nspawn_exec systemctl is-active -q smolserve 2>/dev/null; then
    if [ -z "$NS_INIT" ]; then
      skip "systemd-nspawn could not boot the root here"; tail -n 15 "$WORK/nspawn.log" | indent
    else
      fail "systemd: smolserve.service is not active"
      nspawn_exec systemctl status --no-pager smolserve 2>&1 | indent
    fi
    stop_server "$nspawn_pid" 20 >/dev/null
    return
  fi
  pass "systemd 252 in systemd-nspawn: smolserve.service enabled, started at boot, active"
  expect "systemd: GET /health 200 and POST /embed through the unit's server" bash -c \
    "nsenter -t $NS_INIT -n curl -sf -m 10 127.0.0.1:3000/embed -H 'Content-Type: application/json' \
       -d '{\"inputs\": \"Hello, systemd\"}' | jq -e '.[0] | length == 64'"
  main=$(nspawn_exec systemctl show -P MainPID smolserve)
  nspawn_exec grep -E '^(Uid|NoNewPrivs|CapEff|CapBnd|Seccomp):' "/proc/$main/status" | tr '\t' ' ' | indent
  expect "systemd: the sandbox holds (dynamic uid, no_new_privs, no capabilities, seccomp filter)" bash -c \
    "s=\$(nsenter -t $NS_INIT -a cat /proc/$main/status);
     grep -qE '^Uid:\s+(6[1-5][0-9]{3})\s' <<<\"\$s\" && grep -qE '^NoNewPrivs:\s+1' <<<\"\$s\" &&
     grep -qE '^CapBnd:\s+0+$' <<<\"\$s\" && grep -qE '^Seccomp:\s+2' <<<\"\$s\""
  expect "systemd: the start line names version and commit in the journal" bash -c \
    "nsenter -t $NS_INIT -a journalctl -u smolserve --no-pager | grep -qF 'smolserve $VERSION (commit $COMMIT)'"
  # The service's own view of the file system: its mount namespace (host PID of the process).
  hpid=$(pgrep -P "$NS_INIT" -x smolserve | head -n 1)
  expect "systemd: in the service's namespace /usr and /etc are read-only, /home empty, HF_HOME=/var/cache/smolserve writable" bash -c \
    "nsenter -t $hpid -m sh -c '! touch /usr/x 2>/dev/null && ! touch /etc/x 2>/dev/null &&
       [ -z \"\$(ls -A /home)\" ] && touch /var/cache/smolserve/x && rm /var/cache/smolserve/x' &&
     tr '\\0' '\\n' </proc/$hpid/environ | grep -qx HF_HOME=/var/cache/smolserve"
  expect "systemd: the server keeps its layout cache in /var/cache/smolserve/layout" bash -c \
    "nsenter -t $hpid -m sh -c 'ls /var/cache/smolserve/layout/*.layout' >/dev/null"
  # The rule bites in this systemd (a W+X mapping is refused) and smolserve runs under it.
  expect "systemd: MemoryDenyWriteExecute=yes refuses a writable+executable mapping (and the same probe without it maps one)" bash -c \
    "[ \"\$(nsenter -t $NS_INIT -a systemd-run --wait --pipe --quiet -p MemoryDenyWriteExecute=yes /usr/local/bin/mdwe-probe)\" = refused ] &&
     [ \"\$(nsenter -t $NS_INIT -a systemd-run --wait --pipe --quiet /usr/local/bin/mdwe-probe)\" = mapped ]"
  expect "systemd-analyze verify smolserve.service in the container: no warnings" bash -c \
    "out=\$(nsenter -t $NS_INIT -a systemd-analyze verify --man=no smolserve.service 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
  nspawn_exec systemd-analyze security smolserve 2>/dev/null | tail -n 1 | indent
  # Restart=on-failure: a crash restarts it (after RestartSec=5s).
  nspawn_exec systemctl kill -s SIGKILL smolserve
  t=$(date +%s)
  for i in $(seq 100); do
    [ "$(nspawn_exec systemctl show -P MainPID smolserve)" != "$main" ] &&
      [ "$(nspawn_curl -o /dev/null -w '%{http_code}' 127.0.0.1:3000/health)" = 200 ] && break
    sleep 0.2
  done
  expect "systemd: Restart=on-failure brings it back after SIGKILL ($(($(date +%s) - t))s)" \
    test "$(nspawn_curl -o /dev/null -w '%{http_code}' 127.0.0.1:3000/health)" = 200
  t=$(date +%s)
  nspawn_exec systemctl stop smolserve
  expect "systemd: systemctl stop drains (SIGTERM) and the service exits 0 ($(($(date +%s) - t))s)" bash -c \
    "j=\$(nsenter -t $NS_INIT -a journalctl -u smolserve --no-pager);
     grep -q 'SIGTERM: draining' <<<\"\$j\" && [ \"\$(nsenter -t $NS_INIT -a systemctl show -P ExecMainStatus smolserve)\" = 0 ] &&
     [ \"\$(nsenter -t $NS_INIT -a systemctl show -P Result smolserve)\" = success ]"
  stop_server "$nspawn_pid" 30 >/dev/null
}

if [ "$QUICK" -eq 1 ]; then
  skip "package installed in a debootstrap chroot, under systemd-nspawn; meson dist: --quick"
elif [ -f "$DEB" ]; then
  BASE_TAR="$CACHE/$SUITE-minbase-$(dpkg --print-architecture).tar.gz"
  [ -f "$BASE_TAR" ] || expect "debootstrap --variant=minbase $SUITE (cached in ${BASE_TAR#"$REPO"/})" make_base "$BASE_TAR"
  PR="$WORK/pkg-root"
  if [ -f "$BASE_TAR" ] && new_root "$PR"; then
    cp "$DEB" "$PR/tmp/"
    chroot "$PR" dpkg-query -W -f='${Package}\n' | sort >"$WORK/pkgs-before"
    if env -i PATH="$CHROOT_PATH" DEBIAN_FRONTEND=noninteractive chroot "$PR" sh -c \
      "apt-get update -qq && apt-get install -y --no-install-recommends /tmp/$(basename "$DEB")" >"$WORK/apt-install.log" 2>&1; then
      added=$(chroot "$PR" dpkg-query -W -f='${Package}\n' | sort | comm -13 "$WORK/pkgs-before" - | tr '\n' ' ')
      pass "apt-get install ./$(basename "$DEB") in a fresh Debian 12 chroot: Depends resolved ($(wc -w <<<"$added") packages: $added)"
    else
      fail "apt-get install of the package in the chroot"; tail -n 30 "$WORK/apt-install.log" | indent
    fi
    expect "chroot: dpkg says smolserve $VERSION is installed" bash -c \
      "[ \"\$(chroot '$PR' dpkg-query -W -f='\${Status} \${Version}' smolserve)\" = 'install ok installed $VERSION' ]"
    expect "chroot: ldd finds every library of /usr/bin/smolserve" bash -c \
      "out=\$(chroot '$PR' ldd /usr/bin/smolserve) && ! grep -q 'not found' <<<\"\$out\""
    expect "chroot: /etc/smolserve/smolserve.conf, the unit, the man page, the docs are in place" bash -c \
      "cd '$PR' && test -f etc/smolserve/smolserve.conf -a -f lib/systemd/system/smolserve.service \
         -a -f usr/share/man/man1/smolserve.1.gz -a -f usr/share/doc/smolserve/README.md.gz"
    mkdir -p "$PR/srv/models"
    cp -r tests/fixtures/bert "$PR/srv/models/"
    chmod -R a+rX "$PR/srv/models"
    # As an unprivileged uid from systemd's dynamic range, with the packaged settings file.
    serve_check "chroot: /usr/bin/smolserve --config /etc/smolserve/smolserve.conf as uid 61234" \
      "$WORK/chroot-server.log" env -i PATH="$CHROOT_PATH" chroot --userspec=61234:61234 "$PR" \
      /usr/bin/smolserve serve --config /etc/smolserve/smolserve.conf --model /srv/models/bert \
      --hostname 127.0.0.1 --port 0

    # The same root booted by systemd: add systemd, name the model in the settings file, enable.
    if env -i PATH="$CHROOT_PATH" DEBIAN_FRONTEND=noninteractive chroot "$PR" \
      apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus >"$WORK/apt-systemd.log" 2>&1; then
      sed -i 's|^#model =$|model = /srv/models/bert|' "$PR/etc/smolserve/smolserve.conf"
      chroot "$PR" systemctl enable smolserve >/dev/null 2>&1
      printf '#include <stdio.h>\n#include <sys/mman.h>\nint main(void) { void *p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); puts(p == MAP_FAILED ? "refused" : "mapped"); return 0; }\n' >"$WORK/mdwe-probe.c"
      cc -O -o "$PR/usr/local/bin/mdwe-probe" "$WORK/mdwe-probe.c"
      unmount_under "$PR"
      if command -v systemd-nspawn >/dev/null; then
        boot_check "$PR"
      else
        skip "systemd-nspawn: not installed (systemd-container)"
      fi
    else
      fail "apt-get install systemd in the chroot"; tail -n 20 "$WORK/apt-systemd.log" | indent
    fi
    unmount_under "$PR"
  fi

  # meson dist: the tarball, with its commit, builds and passes the tests from a clean directory,
  # and the Debian package builds from it.
  t=$(date +%s)
  rm -rf build-deploy/meson-dist
  if meson dist -C build-deploy --no-tests --allow-dirty --formats xztar >"$WORK/dist.log" 2>&1; then
    TARBALL=$(ls build-deploy/meson-dist/smolserve-*.tar.xz)
    pass "meson dist: $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) KiB, $(($(date +%s) - t))s)"
    HEAD=$(git rev-parse HEAD)
    expect "the tarball carries its commit in .commit ($HEAD)" bash -c \
      "[ \"\$(tar -xOf '$TARBALL' smolserve-$VERSION/.commit)\" = '$HEAD' ]"
    mkdir -p "$WORK/dist"
    tar -C "$WORK/dist" -xf "$TARBALL"
    D="$WORK/dist/smolserve-$VERSION"
    t=$(date +%s)
    tally_out=$(cd "$D" && BUILD_DIR=build MESON_ARGS=-Dwerror=true bash tests/run.sh 2>&1)
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$tally_out" | tail -n 1)
    if [[ "$line" =~ ^[1-9][0-9]*\ passed,\ 0\ failed ]]; then
      pass "the tarball builds (-Werror) and passes tests/run.sh from a clean directory: $line ($(($(date +%s) - t))s)"
    else
      fail "the tarball's tests/run.sh: ${line:-no result}"; tail -n 30 <<<"$tally_out" | indent
    fi
    expect "the tarball's binary reports $VERSION and commit $HEAD" bash -c \
      "'$D/build/server/smolserve' --version | grep -qF 'smolserve $VERSION (commit $HEAD;'"
    rm -rf "$D/build" "$D/build.setup.log"
    t=$(date +%s)
    if (cd "$D" && DEB_BUILD_OPTIONS=nocheck bash deploy/debian/build.sh "$WORK/deb-dist") >"$WORK/deb-dist.log" 2>&1; then
      mkdir -p "$WORK/deb-dist/x"
      dpkg-deb -x "$WORK/deb-dist/$(basename "$DEB")" "$WORK/deb-dist/x"
      expect "deploy/debian/build.sh from the tarball (nocheck, $(($(date +%s) - t))s): the .deb reports commit $HEAD" \
        bash -c "'$WORK/deb-dist/x/usr/bin/smolserve' --version | grep -qF '(commit $HEAD;'"
    else
      fail "deploy/debian/build.sh from the tarball"; tail -n 30 "$WORK/deb-dist.log" | indent
    fi
  else
    fail "meson dist"; tail -n 30 "$WORK/dist.log" | indent
  fi
fi
