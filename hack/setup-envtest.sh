#!/usr/bin/env bash
# Builds the control-plane binaries envtest needs (kube-apiserver, etcd) from the Go module
# proxy into bin/k8s, because the official download bucket is out of reach. A second run reuses
# them. Prints the directory to use as KUBEBUILDER_ASSETS on its last line.
set -euo pipefail

KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.2}"
STAGING_VERSION="${STAGING_VERSION:-v0.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
assets="${root}/bin/k8s/${KUBERNETES_VERSION}"
mkdir -p "${assets}"

log() { printf 'setup-envtest: %s\n' "$*" >&2; }

build_apiserver() {
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building kube-apiserver ${KUBERNETES_VERSION} (a few minutes on first use)"
  # Every k8s.io staging module that k8s.io/kubernetes replaces with a local path must be
  # replaced here by the published module of the same version line.
  local gomod
  gomod="$(cd "${work}" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "module envtest/kubeapiserver"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "${gomod}" \
      | awk -v v="${STAGING_VERSION}" '{print "replace " $1 " => " $1 " " v}'
  } >"${work}/go.mod"
  cat >"${work}/main.go" <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
  (cd "${work}" && go mod tidy >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${assets}/kube-apiserver.tmp" .)
  mv "${assets}/kube-apiserver.tmp" "${assets}/kube-apiserver"
}

build_etcd() {
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building etcd ${ETCD_VERSION}"
  cat >"${work}/go.mod" <<GOMOD
module envtest/etcd

go 1.25

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
GOMOD
  cat >"${work}/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "${work}" && go mod tidy >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${assets}/etcd.tmp" .)
  mv "${assets}/etcd.tmp" "${assets}/etcd"
}

# A per-user cache outside the checkout lets a fresh clone on the same machine skip the build.
cache="${XDG_CACHE_HOME:-${HOME}/.cache}/ocs-ha-operator/k8s/${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}"
for bin in etcd kube-apiserver; do
  if [ ! -x "${assets}/${bin}" ] && [ -x "${cache}/${bin}" ]; then
    cp "${cache}/${bin}" "${assets}/${bin}"
  fi
done

[ -x "${assets}/etcd" ] || build_etcd
[ -x "${assets}/kube-apiserver" ] || build_apiserver

if mkdir -p "${cache}" 2>/dev/null; then
  for bin in etcd kube-apiserver; do
    if [ ! -x "${cache}/${bin}" ]; then
      cp "${assets}/${bin}" "${cache}/${bin}.tmp.$$" && mv -f "${cache}/${bin}.tmp.$$" "${cache}/${bin}" || true
    fi
  done
fi

kubectl_bin="$(command -v kubectl || true)"
if [ -n "${kubectl_bin}" ] && [ ! -e "${assets}/kubectl" ]; then
  ln -s "${kubectl_bin}" "${assets}/kubectl"
fi
[ -e "${assets}/kubectl" ] || { log "kubectl not found on PATH"; exit 1; }

log "control plane binaries in ${assets}"
echo "${assets}"
