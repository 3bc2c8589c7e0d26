#!/usr/bin/env bash
# Vendors hls.js for the web player into gateway/web/static/vendor/hls.js/:
# dist/hls.min.js and its LICENSE (Apache-2.0) from the npm registry's
# tarball, checked against the SHA-256 sums below.
#
#   scripts/vendor-hlsjs.sh           fetch with `npm pack`, check, install
#   scripts/vendor-hlsjs.sh --check   only check the committed files (no network)
#
# To move to another version: change VERSION, run once with the new sums
# printed by the failed check, review them, and update SHA256_* and the
# folder's README.md.
set -euo pipefail

VERSION=1.6.13
SHA256_MIN=7c47cd97d7a6e7b98d9623dd8ed9a6d45af4be4085e0c2001cd7175c2b4cfb07
SHA256_LICENSE=ca8773cf798c7ed997d4dd7c8e23c348699f8d5b7462636694cc14de6cda12db

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DEST=gateway/web/static/vendor/hls.js

check() { # DIR: the two files there match the sums
  printf '%s  %s\n%s  %s\n' "$SHA256_MIN" "$1/hls.min.js" "$SHA256_LICENSE" "$1/LICENSE" | sha256sum --check --strict --quiet
}

if [ "${1:-}" = --check ]; then
  check "$DEST"
  echo "hls.js $VERSION in $DEST: checksums match"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack --silent "hls.js@$VERSION" >/dev/null)
tar -xzf "$tmp/hls.js-$VERSION.tgz" -C "$tmp" package/dist/hls.min.js package/LICENSE
cp "$tmp/package/dist/hls.min.js" "$tmp/package/LICENSE" "$tmp/"
if ! check "$tmp"; then
  echo "vendor-hlsjs.sh: hls.js@$VERSION does not match the expected SHA-256; got:" >&2
  sha256sum "$tmp/hls.min.js" "$tmp/LICENSE" >&2
  exit 1
fi
mkdir -p "$DEST"
install -m 644 "$tmp/hls.min.js" "$tmp/LICENSE" "$DEST/"
echo "hls.js $VERSION vendored into $DEST"
