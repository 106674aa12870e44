#!/usr/bin/env bash
# The dev environment end to end, as a newcomer would use it: make dev-up, the manager, one
# crash and failover through the emulator's admin API, make dev-down — and then no process of
# it may be left. `make test` runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

manager_pid=""
cleanup() {
  [ -n "${manager_pid}" ] && kill "${manager_pid}" 2>/dev/null && wait "${manager_pid}" 2>/dev/null
  hack/dev-down.sh >/dev/null
}
trap cleanup EXIT

SIM_FLAGS="--users 200 --contacts-per-user 5" hack/dev-up.sh
set -a
# shellcheck source=/dev/null
source bin/dev/env
set +a

hack/dev-apply.sh
go build -o bin/manager .
"${root}/bin/manager" --metrics-bind-address=0 --health-probe-bind-address=0 >bin/dev/manager.log 2>&1 &
manager_pid=$!

kubectl wait --for=condition=Ready ocspool/site-a --timeout=120s >/dev/null
# The demo's role servers and gateways answer: both PSTN paths and both Edges serve.
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="PSTNAvailable")].reason}'=AllPathsServing ocspool/site-a --timeout=120s >/dev/null
kubectl wait --for=condition=ExternalAccessAvailable ocspool/site-a --timeout=120s >/dev/null
kubectl wait --for=condition=Ready userhoming/site-a --timeout=120s >/dev/null
kubectl annotate --overwrite contactbackup/site-a-contacts ocs.ocsha.io/backup-now=dev-smoke >/dev/null
kubectl wait --for=jsonpath='{.status.lastHandledRequest}'=dev-smoke contactbackup/site-a-contacts --timeout=120s >/dev/null
echo "dev-smoke: pool and homing Ready, backup taken; crashing ocs2"
curl -fsS -X POST "${OCS_SIM_ADMIN}/servers/ocs2/crash" >/dev/null
kubectl wait --for=jsonpath='{.status.lastOperation.type}'=Failover userhoming/site-a --timeout=180s >/dev/null
deadline=$((SECONDS + 180))
until [ -n "$(kubectl get userhoming/site-a -o jsonpath='{.status.lastOperation.completionTime}')" ]; do
  [ ${SECONDS} -lt ${deadline} ] || { echo "dev-smoke: failover did not complete" >&2; tail -n 30 bin/dev/manager.log >&2; exit 1; }
  sleep 1
done
users="$(curl -fsS "${OCS_SIM_ADMIN}/users")"
on_ocs2="$(grep -o '"home":"ocs2"' <<<"${users}" | wc -l || true)"
[ "${on_ocs2}" -eq 0 ] || { echo "dev-smoke: ${on_ocs2} users still homed on the crashed server" >&2; exit 1; }
restored="$(kubectl get userhoming/site-a -o jsonpath='{.status.lastOperation.contactsRestored}')"
[ "${restored}" = "100" ] || { echo "dev-smoke: ${restored} of 100 contact lists restored" >&2; exit 1; }
echo "dev-smoke: failover done: $(kubectl get userhoming/site-a -o jsonpath='{.status.lastOperation}')"

# Every process dev-up started must be gone after dev-down: the emulator, the control plane
# runner and its kube-apiserver and etcd (which run in process groups of their own).
started="$(cat bin/dev/dev-env.pid bin/dev/ocs-sim.pid)"
started="${started} $(pgrep -P "$(cat bin/dev/dev-env.pid)" | tr '\n' ' ')"
groups="$(cat bin/dev/dev-env.pid bin/dev/ocs-sim.pid)"
cleanup
trap - EXIT
leftover=""
for pid in ${started}; do
  leftover+="$(ps -o pid=,args= -p "${pid}" || true)"
done
for pgid in ${groups}; do
  leftover+="$(pgrep -a -g "${pgid}" || true)"
done
if [ -n "${leftover}" ]; then
  echo "dev-smoke: processes left behind:" >&2
  echo "${leftover}" >&2
  exit 1
fi
echo "dev-smoke: dev-down left no process behind"
