#!/usr/bin/env bash
# Stops what hack/dev-up.sh started (and everything they started) and leaves no process behind.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev="${root}/bin/dev"

gone() {
  local p
  for p in "$@"; do
    kill -0 "${p}" 2>/dev/null && return 1
  done
  return 0
}

for name in ocs-sim dev-env; do
  pidfile="${dev}/${name}.pid"
  [ -f "${pidfile}" ] || continue
  pid="$(cat "${pidfile}")"
  if kill -0 "${pid}" 2>/dev/null; then
    # The control plane's kube-apiserver and etcd run in process groups of their own: note them
    # first, so that they are stopped even if their parent cannot stop them itself.
    children="$(pgrep -P "${pid}" | tr '\n' ' ')"
    kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null
    for _ in $(seq 1 100); do
      # shellcheck disable=SC2086
      gone "${pid}" ${children} && break
      sleep 0.2
    done
    # shellcheck disable=SC2086
    kill -KILL -- "-${pid}" ${children} 2>/dev/null || true
  fi
  rm -f "${pidfile}"
done
echo "dev environment stopped"
