#!/usr/bin/env bash
# Builds the local control plane's Go binaries through the Go module proxy and caches them under
# the user's cache directory, keyed by version:
#   $CACHE/k8s-$K8S_VERSION/{kube-apiserver,kubectl}
#   $CACHE/etcd-$ETCD_VERSION/etcd
#   $CACHE/distribution-$DISTRIBUTION_VERSION/registry
#   $CACHE/k8s-node-$K8S_VERSION/{kubelet,kube-scheduler,kube-controller-manager}   (the real node)
#   $CACHE/containerd-$CONTAINERD_VERSION/{containerd,containerd-shim-runc-v2,ctr}
#   $CACHE/runc-$RUNC_VERSION/runc         (cgo + libseccomp: RuntimeDefault seccomp works)
#   $CACHE/crictl-$CRICTL_VERSION/crictl
#   $CACHE/crane-$CRANE_VERSION/crane      (image building and pushing, no Docker daemon)
#   $CACHE/helm-$HELM_VERSION/helm
# kube-apiserver and etcd cannot be `go install`ed (their go.mod files carry `replace` lines), so
# each is built from a small wrapper module that pins the staging modules the same way.
# Usage: build-binaries.sh [all|control-plane|node|tools|k8s|k8s-node|etcd|registry|containerd|runc|crictl|crane|helm]
# (idempotent: a cached binary is not rebuilt; `all` = control-plane + node + tools)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${PIGGY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/piggy}"
what="${1:-all}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# One build at a time per cache (a test run and a developer may both ask for a missing binary).
mkdir -p "$cache"
exec 9>"$cache/.build-binaries.lock"
flock 9

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

# The real node's Kubernetes binaries, from the control plane's wrapper module (same version).
build_k8s_node() {
  local out="$cache/k8s-node-$K8S_VERSION"
  if [ -x "$out/kubelet" ] && [ -x "$out/kube-scheduler" ] && [ -x "$out/kube-controller-manager" ]; then log "k8s node $K8S_VERSION cached"; return; fi
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local work="$cache/build/k8s-$K8S_VERSION"
  [ -f "$work/go.mod" ] || wrapper "$work" k8s.io/kubernetes "$K8S_VERSION" "v0.${K8S_VERSION#v1.}"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  mkdir -p "$out.tmp"
  for cmd in kubelet kube-scheduler kube-controller-manager; do
    log "building $cmd $K8S_VERSION"
    (cd "$work" && go build -trimpath -ldflags "$ld" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# go_tool NAME VERSION MODULE OUTDIR LDFLAGS PACKAGE:BINARY...: builds each package of MODULE@VERSION
# from a wrapper module into OUTDIR (atomically), unless every binary is cached.
go_tool() {
  local name="$1" version="$2" module="$3" out="$4" ld="$5"; shift 5
  local all=1 pb
  for pb in "$@"; do [ -x "$out/${pb#*:}" ] || all=0; done
  if [ "$all" = 1 ]; then log "$name $version cached"; return; fi
  local work="$cache/build/$name-$version"
  wrapper "$work" "$module" "$version"
  mkdir -p "$out.tmp"
  for pb in "$@"; do
    log "building ${pb#*:} $version"
    (cd "$work" && go build -trimpath ${GO_TAGS:+-tags "$GO_TAGS"} -ldflags "-s -w $ld" -o "$out.tmp/${pb#*:}" "${pb%%:*}")
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_containerd() {
  local m=github.com/containerd/containerd/v2
  go_tool containerd "$CONTAINERD_VERSION" "$m" "$cache/containerd-$CONTAINERD_VERSION" \
    "-X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Revision=piggy-local" \
    "$m/cmd/containerd:containerd" "$m/cmd/containerd-shim-runc-v2:containerd-shim-runc-v2" "$m/cmd/ctr:ctr"
}

build_runc() {
  # cgo: libcontainer/nsenter is C; the seccomp tag links libseccomp (libseccomp-dev) so that
  # RuntimeDefault seccomp profiles are applied. runc's default libpathrs tag needs Rust: left out.
  CGO_ENABLED=1 GO_TAGS="seccomp urfave_cli_no_docs" go_tool runc "$RUNC_VERSION" github.com/opencontainers/runc \
    "$cache/runc-$RUNC_VERSION" "-X main.version=${RUNC_VERSION#v}" "github.com/opencontainers/runc:runc"
}

build_crictl() {
  go_tool crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools "$cache/crictl-$CRICTL_VERSION" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl:crictl"
}

build_crane() {
  go_tool crane "$CRANE_VERSION" github.com/google/go-containerregistry "$cache/crane-$CRANE_VERSION" \
    "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$CRANE_VERSION" "github.com/google/go-containerregistry/cmd/crane:crane"
}

build_helm() {
  local major="${HELM_VERSION%%.*}"
  go_tool helm "$HELM_VERSION" "helm.sh/helm/$major" "$cache/helm-$HELM_VERSION" \
    "-X helm.sh/helm/$major/internal/version.version=$HELM_VERSION" "helm.sh/helm/$major/cmd/helm:helm"
}

case "$what" in
  all) build_etcd; build_registry; build_k8s; build_crane; build_helm; build_runc; build_containerd; build_k8s_node ;;
  control-plane) build_etcd; build_registry; build_k8s ;;
  node) build_runc; build_containerd; build_k8s_node ;;
  tools) build_crane; build_helm ;;
  k8s) build_k8s ;;
  k8s-node) build_k8s_node ;;
  etcd) build_etcd ;;
  registry) build_registry ;;
  containerd) build_containerd ;;
  runc) build_runc ;;
  crictl) build_crictl ;;
  crane) build_crane ;;
  helm) build_helm ;;
  *) echo "usage: $0 [all|control-plane|node|tools|k8s|k8s-node|etcd|registry|containerd|runc|crictl|crane|helm]" >&2; exit 2 ;;
esac
