#!/usr/bin/env bash
# Checks the system tools the project builds and tests with, installing Debian packages where
# they are missing and apt is available: Go (to build the control plane), Python 3 with venv
# (for the AWS emulator), openssl (test certificates), git and curl; the image build's cross tools.
set -euo pipefail
missing=()
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# piggy-env packaging (scripts/build-piggy-env.ts) and its isolated-root tests.
command -v patchelf >/dev/null 2>&1 || missing+=(patchelf)
command -v strip >/dev/null 2>&1 || missing+=(binutils)
# The arm64 launcher and images (scripts/build-images.ts): strip for arm64, and qemu-user to write
# the arm64 SEA blob and to test the arm64 launcher (called explicitly; binfmt_misc is not touched).
# Debian's archive keyring verifies the private apt root the arm64 libraries are downloaded with.
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
# The piggy-env image's layers are zstd-compressed (scripts/images/layer.ts).
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
# The local stack's real nodes (scripts/local/node): runc is cgo with libseccomp (RuntimeDefault
# seccomp), the pause image is a static C program, the nodes live in private mount namespaces.
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v mount >/dev/null 2>&1 || missing+=(mount)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
case "$( [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 || true)" in
  *"not a dynamic"*) ;;
  *) missing+=(busybox-static) ;;
esac
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "ensure-system: installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "ensure-system: missing ${missing[*]}; install them and retry" >&2
    exit 1
  fi
fi
gover="$(go env GOVERSION 2>/dev/null || /usr/local/go/bin/go env GOVERSION)"
case "$gover" in
  go1.2[6-9]*|go1.[3-9][0-9]*) ;;
  *) echo "ensure-system: Go >= 1.26 is needed to build kube-apiserver (found $gover); or set KUBEBUILDER_ASSETS" >&2
     [ -n "${KUBEBUILDER_ASSETS:-}" ] || exit 1 ;;
esac
