#!/usr/bin/env bash
# Stops what hack/dev-up.sh started (and everything they started) and leaves no process behind.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev="${root}/bin/dev"
for name in ocs-sim dev-env; do
  pidfile="${dev}/${name}.pid"
  [ -f "${pidfile}" ] || continue
  pid="$(cat "${pidfile}")"
  if kill -0 "${pid}" 2>/dev/null; then
    kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 -- "-${pid}" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-${pid}" 2>/dev/null || true
  fi
  rm -f "${pidfile}"
done
echo "dev environment stopped"
