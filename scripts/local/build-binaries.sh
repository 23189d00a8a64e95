#!/usr/bin/env bash
# Builds the local control plane's Go binaries through the Go module proxy and caches them under
# the user's cache directory, keyed by version:
#   $CACHE/k8s-$K8S_VERSION/{kube-apiserver,kubectl}
#   $CACHE/etcd-$ETCD_VERSION/etcd
#   $CACHE/distribution-$DISTRIBUTION_VERSION/registry
# kube-apiserver and etcd cannot be `go install`ed (their go.mod files carry `replace` lines), so
# each is built from a small wrapper module that pins the staging modules the same way.
# Usage: build-binaries.sh [all|k8s|etcd|registry]   (idempotent: a cached binary is not rebuilt)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${PIGGY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/piggy}"
what="${1:-all}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# wrapper DIR MODULE VERSION: a module in DIR requiring MODULE@VERSION with its v0.0.0 k8s.io
# requirements replaced by the matching published staging versions.
wrapper() {
  local dir="$1" module="$2" version="$3" staging="${4:-}"
  rm -rf "$dir" && mkdir -p "$dir"
  {
    printf 'module piggy.local/wrapper\n\ngo 1.26\n\nrequire %s %s\n' "$module" "$version"
    if [ -n "$staging" ]; then
      local gomod
      gomod="$(cd "$dir" && go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
      printf '\nreplace (\n'
      grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0(\s|$)' "$gomod" | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
      printf ')\n'
    fi
  } >"$dir/go.mod.new"
  mv "$dir/go.mod.new" "$dir/go.mod"
  printf 'package main\n' >"$dir/main.go"
}

build_k8s() {
  local out="$cache/k8s-$K8S_VERSION"
  if [ -x "$out/kube-apiserver" ] && [ -x "$out/kubectl" ]; then log "k8s $K8S_VERSION cached"; return; fi
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local work="$cache/build/k8s-$K8S_VERSION"
  wrapper "$work" k8s.io/kubernetes "$K8S_VERSION" "v0.${K8S_VERSION#v1.}"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  mkdir -p "$out.tmp"
  for cmd in kube-apiserver kubectl; do
    log "building $cmd $K8S_VERSION"
    (cd "$work" && go build -trimpath -ldflags "$ld" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_etcd() {
  local out="$cache/etcd-$ETCD_VERSION"
  if [ -x "$out/etcd" ]; then log "etcd $ETCD_VERSION cached"; return; fi
  local work="$cache/build/etcd-$ETCD_VERSION"
  wrapper "$work" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  log "building etcd $ETCD_VERSION"
  mkdir -p "$out.tmp"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_registry() {
  local out="$cache/distribution-$DISTRIBUTION_VERSION"
  if [ -x "$out/registry" ]; then log "registry $DISTRIBUTION_VERSION cached"; return; fi
  local work="$cache/build/distribution-$DISTRIBUTION_VERSION"
  wrapper "$work" github.com/distribution/distribution/v3 "$DISTRIBUTION_VERSION"
  log "building registry $DISTRIBUTION_VERSION"
  mkdir -p "$out.tmp"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/registry" github.com/distribution/distribution/v3/cmd/registry)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

case "$what" in
  all) build_etcd; build_registry; build_k8s ;;
  k8s) build_k8s ;;
  etcd) build_etcd ;;
  registry) build_registry ;;
  *) echo "usage: $0 [all|k8s|etcd|registry]" >&2; exit 2 ;;
esac
