#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Dockerfile's build stage (also run by tests/deploy/run.sh inside a debootstrap chroot of
# Debian 12, the same base as debian:bookworm-slim): installs the build dependencies with
# deploy/install-deps.sh, builds smolserve with --buildtype=release and installs the binary as
# PREFIX/bin/smolserve (PREFIX: first argument, default /opt/smolserve), stripped.
# Run from anywhere inside the source tree; needs root (apt-get) when packages are missing.
set -euo pipefail
PREFIX="${1:-/opt/smolserve}"
cd "$(dirname "$0")/../.."
bash deploy/install-deps.sh
BUILD="${BUILD_DIR:-build-release}"
rm -rf "$BUILD"
meson setup "$BUILD" --buildtype=release --prefix="$PREFIX" >"$BUILD.setup.log" 2>&1 ||
  { cat "$BUILD.setup.log" >&2; exit 1; }
# Only the server: the test suites are not part of the image.
ninja -C "$BUILD" server/smolserve
install -D -m 0755 -s "$BUILD/server/smolserve" "$PREFIX/bin/smolserve"
"$PREFIX/bin/smolserve" --version
