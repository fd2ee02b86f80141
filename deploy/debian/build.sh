#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package smolserve_<version>_<arch>.deb with the ordinary tools
# (dpkg-buildpackage -us -uc -b: debhelper with the meson build system, debian/ at the top of
# the tree) and lints it with lintian. On Debian 12:
#
#   bash deploy/debian/build.sh [OUT]       # OUT defaults to build-deb/
#
# - installs what is missing to build (debian/control's Build-Depends, with apt-get build-dep)
#   and lintian; needs root (or sudo) only then;
# - builds from a copy of the tree's files (tracked and not ignored) in a scratch directory,
#   because dpkg-buildpackage writes its results next to the source directory and the build
#   directory into it; the copy has no .git, so the commit is written into its .commit (as a
#   `meson dist` tarball has it), for `smolserve --version` and /info's sha;
# - fails when meson.build's version, debian/changelog's and CHANGELOG.md's newest release
#   differ;
# - leaves in OUT: the .deb, its -dbgsym .deb, .buildinfo, .changes and lintian.txt; exits
#   non-zero when lintian reports an error.
# DEB_BUILD_OPTIONS passes through (nocheck skips the test suite; parallel=N defaults to the
# CPU count).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:-build-deb}")
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# One version everywhere.
meson_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
deb_version=$(dpkg-parsechangelog -S Version)
md_version=$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
if [ "$meson_version" != "$deb_version" ] || [ "$meson_version" != "$md_version" ]; then
  echo "version mismatch: meson.build $meson_version, debian/changelog $deb_version," \
    "CHANGELOG.md $md_version (README: Releases)" >&2
  exit 1
fi

profiles=()
case " ${DEB_BUILD_OPTIONS:-} " in *" nocheck "*) profiles=(-Pnocheck) ;; esac
if ! dpkg-checkbuilddeps "${profiles[@]}" >/dev/null 2>&1 || ! command -v lintian >/dev/null; then
  echo "installing the build dependencies" >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends build-essential lintian >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 build-dep -y -qq \
    "${profiles[@]}" ./ >/dev/null
fi

WORK=$(mktemp -d /tmp/smolserve-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/smolserve-$meson_version"
mkdir -p "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -e .git ]; then
  git ls-files -z --cached --others --exclude-standard |
    tar --null --files-from=- --create --file=- | tar --extract --file=- --directory="$SRC"
  git describe --always --dirty --abbrev=40 --exclude='*' >"$SRC/.commit"
else
  # A source tarball (meson dist): its .commit comes along.
  tar --exclude='./build*' --exclude='./obj-*' --exclude='./debian/.debhelper' \
    --create --file=- . | tar --extract --file=- --directory="$SRC"
fi

case " ${DEB_BUILD_OPTIONS:-} " in
  *" parallel="*) ;;
  *) DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)" ;;
esac
export DEB_BUILD_OPTIONS
(cd "$SRC" && dpkg-buildpackage -us -uc -b "${profiles[@]}") >"$WORK/build.log" 2>&1 ||
  { tail -n 60 "$WORK/build.log" >&2; echo "dpkg-buildpackage failed" >&2; exit 1; }

mkdir -p "$OUT"
rm -f "$OUT"/smolserve*_*.deb "$OUT"/smolserve_*.buildinfo "$OUT"/smolserve_*.changes
cp "$WORK"/*.deb "$WORK"/*.buildinfo "$WORK"/*.changes "$WORK/build.log" "$OUT/"
changes=$(ls "$OUT"/smolserve_*.changes)
rc=0
lintian --info --display-info --pedantic --fail-on error "$changes" >"$OUT/lintian.txt" 2>&1 || rc=$?
cat "$OUT/lintian.txt"
ls -l "$OUT"/*.deb
exit $rc
