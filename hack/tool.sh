#!/usr/bin/env bash
# Builds a pinned tool from the Go module proxy (helm, promtool, golangci-lint) and prints its path on the last
# line. Tests and make targets call it; a second run, or another clone on the same machine,
# reuses the binary from the per-user cache.
#
#   hack/tool.sh helm       # helm.sh/helm/v4/cmd/helm
#   hack/tool.sh promtool   # github.com/prometheus/prometheus/cmd/promtool (module v0.316.0 = Prometheus 3.16.0)
#   hack/tool.sh golangci-lint
set -euo pipefail

name="${1:?usage: hack/tool.sh helm|promtool|golangci-lint}"
case "${name}" in
  helm) module=helm.sh/helm/v4/cmd/helm; version="${HELM_VERSION:-v4.3.2}"; tags="" ;;
  # remove_all_sd leaves out the cloud service discoveries (AWS, Azure, GCE, ...), which rule
  # checks and rule unit tests never use: a third of the build.
  promtool) module=github.com/prometheus/prometheus/cmd/promtool; version="${PROMTOOL_VERSION:-v0.316.0}"; tags=remove_all_sd ;;
  golangci-lint) module=github.com/golangci/golangci-lint/v2/cmd/golangci-lint; version="${GOLANGCI_LINT_VERSION:-v2.15.0}"; tags="" ;;
  *) echo "tool.sh: unknown tool ${name}" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${root}/bin/tools/${name}-${version}"
cache="${XDG_CACHE_HOME:-${HOME}/.cache}/ocs-ha-operator/tools/${name}-${version}"

if [[ ! -x "${bin}" ]]; then
  mkdir -p "$(dirname "${cache}")" "$(dirname "${bin}")"
  # Test packages run in parallel: the first one builds, the others wait for it.
  exec 9>"${cache}.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [[ ! -x "${cache}" ]]; then
    printf 'tool.sh: building %s %s from the Go module proxy (minutes on first use)\n' "${name}" "${version}" >&2
    work="$(mktemp -d)"
    trap 'rm -rf "${work}"' EXIT
    # go install builds the tool with its own go.mod, as its maintainers release it.
    (cd "${work}" && CGO_ENABLED=0 GOBIN="${work}" GOFLAGS= go install -trimpath -ldflags='-s -w' -tags="${tags}" "${module}@${version}")
    mv "${work}/${name}" "${cache}.tmp.$$"
    mv -f "${cache}.tmp.$$" "${cache}"
  fi
  cp "${cache}" "${bin}.tmp.$$"
  mv -f "${bin}.tmp.$$" "${bin}"
fi
echo "${bin}"
