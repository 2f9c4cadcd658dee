#!/usr/bin/env bash
# Builds the example into OUTDIR (default: ./dist): installs the pinned packages of
# package-lock.json with `npm ci` and bundles src/app.js with esbuild.
#
# The installed node_modules are kept in a cache directory keyed by the lock file's
# hash, so a second build (or CI with that directory cached) installs nothing:
#   $WAVEWIRE_NPM_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/wavewire/pipecat-client)
# Needs node and npm (Debian: apt-get install -y nodejs npm); the npm registry is only
# contacted when the cache has no copy for this lock file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/dist}"

for tool in node npm; do
  command -v "$tool" >/dev/null || {
    echo "build.sh: '$tool' not found (Debian: apt-get install -y nodejs npm)" >&2
    exit 127
  }
done

hash="$(sha256sum "$here/package-lock.json" | cut -c1-16)"
cache="${WAVEWIRE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wavewire/pipecat-client}"
deps="$cache/$hash"
if [ ! -f "$deps/.complete" ]; then
  rm -rf "$deps"
  mkdir -p "$deps"
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$deps/.complete"
fi

mkdir -p "$out"
# NODE_PATH: esbuild resolves the packages from the cache, the sources stay in place.
NODE_PATH="$deps/node_modules" "$deps/node_modules/.bin/esbuild" "$here/src/app.js" \
  --bundle --format=esm --target=es2020 --minify --sourcemap \
  --outfile="$out/app.js" --log-level=warning
cp "$here/index.html" "$out/index.html"
echo "$out"
