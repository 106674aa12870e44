#!/usr/bin/env bash
# Builds versitygw, an S3 server with a POSIX backend that the S3 storage tests start on
# loopback, from the Go module proxy into bin/versitygw. A second run reuses it, and so does a
# fresh clone on the same machine (per-user cache). Prints the binary's path on its last line.
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${root}/bin/versitygw/${VERSITYGW_VERSION}"
bin="${dir}/versitygw"
cache="${XDG_CACHE_HOME:-${HOME}/.cache}/ocs-ha-operator/versitygw/${VERSITYGW_VERSION}"

log() { printf 'setup-versitygw: %s\n' "$*" >&2; }

mkdir -p "${dir}"
if [ ! -x "${bin}" ] && [ -x "${cache}/versitygw" ]; then
  cp "${cache}/versitygw" "${bin}.tmp.$$" && mv -f "${bin}.tmp.$$" "${bin}"
fi

if [ ! -x "${bin}" ]; then
  # Parallel test packages may all ask at once: one builds, the others wait for it.
  exec 9>"${dir}/.lock"
  flock 9
  if [ ! -x "${bin}" ]; then
    log "building versitygw ${VERSITYGW_VERSION} (about a minute on first use)"
    work="$(mktemp -d)"
    trap 'rm -rf "${work}"' EXIT
    # go install pkg@version builds the module exactly as its go.mod pins it, outside this module.
    GOBIN="${work}" CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' \
      "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}"
    mv -f "${work}/versitygw" "${bin}"
  fi
  flock -u 9
fi

if mkdir -p "${cache}" 2>/dev/null && [ ! -x "${cache}/versitygw" ]; then
  cp "${bin}" "${cache}/versitygw.tmp.$$" && mv -f "${cache}/versitygw.tmp.$$" "${cache}/versitygw" || true
fi

echo "${bin}"
