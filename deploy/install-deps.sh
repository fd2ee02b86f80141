#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages smolserve needs to build, if any is
# missing; with --test also what the test suite uses (promtool from the
# prometheus package, curl, clang-14 and its libFuzzer runtime for
# tests/fuzz/run.sh). Used by the README's commands, .ci/run and the
# Dockerfile's build stage. Needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(gcc meson ninja-build pkg-config libopenblas-dev libjansson-dev check
      libutf8proc-dev libonig-dev libmicrohttpd-dev libuv1-dev python3
      libcurl4-openssl-dev nettle-dev)
if [ "${1:-}" = "--test" ]; then
  PKGS+=(prometheus curl)
  PKGS+=(clang-14 libclang-rt-14-dev)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
