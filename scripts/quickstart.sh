#!/usr/bin/env bash
# The README's two quick-start commands, each provisioning what it needs on a fresh machine:
#   bash scripts/quickstart.sh demo    the narrated demo on a local cluster with real nodes
#   bash scripts/quickstart.sh test    type-check + lint + every test layer (what .ci/run calls)
# Both install the Debian packages the build needs (as root; scripts/ensure-system.sh), Node 24 into
# the user's cache (scripts/setup-node.sh), the locked npm dependencies (npm ci, when package-lock.json
# changed since the last install), then build or reuse the cached stack binaries on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
what="${1:-}"
case "$what" in demo|test) ;; *) echo "usage: bash scripts/quickstart.sh demo|test" >&2; exit 2 ;; esac
bash scripts/ensure-system.sh
eval "$(bash scripts/setup-node.sh)"
echo "node $(node --version), npm $(npm --version)" >&2
stamp=node_modules/.piggy-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
if [ "${CI:-}" = true ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" >"$stamp"
fi
if [ "$what" = demo ]; then exec npm run demo -- "${@:2}"; fi
exec npm test
