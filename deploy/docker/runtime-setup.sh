#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Dockerfile's runtime stage (also run by tests/deploy/run.sh in a fresh debootstrap chroot
# of Debian 12): installs only the shared libraries smolserve links (OpenBLAS with pthreads,
# jansson, utf8proc, Oniguruma, libmicrohttpd, libuv, libcurl and nettle for Hub downloads, with
# ca-certificates for HTTPS; apt adds their own dependencies such as libgfortran5 and GnuTLS),
# the health check next to this script as /usr/local/bin/smolserve-healthcheck, the
# unprivileged user smolserve (uid/gid 10001, no home, no shell), /models, where model folders
# are mounted, and /data, the Hugging Face cache (HF_HUB_CACHE) for models named by Hub id,
# writable by that user. No compiler, no curl binary. Needs root.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNTIME_PKGS=(libopenblas0-pthread libjansson4 libutf8proc2 libonig5 libmicrohttpd12 libuv1
              libcurl4 libnettle8 ca-certificates)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${RUNTIME_PKGS[@]}" >/dev/null
# apt's indexes and caches are not needed at run time (debian:bookworm-slim keeps no *.bin).
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
install -m 0755 "$HERE/healthcheck.sh" /usr/local/bin/smolserve-healthcheck
getent group 10001 >/dev/null || groupadd --system --gid 10001 smolserve
getent passwd 10001 >/dev/null ||
  useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin smolserve
install -d -m 0755 /models
install -d -m 0755 -o 10001 -g 10001 /data
