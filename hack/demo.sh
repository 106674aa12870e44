#!/usr/bin/env bash
# make demo: the whole system on this machine — control plane, emulator (2 front ends with 5,000
# users, 2 Mediation servers, 2 Edges, 2 PSTN gateways),
# CRDs, the demo objects, and the manager in the foreground. Ctrl-C stops everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
trap 'hack/dev-down.sh' EXIT
hack/dev-up.sh
set -a
# shellcheck source=/dev/null
source bin/dev/env
set +a
hack/dev-apply.sh
go build -o bin/manager .
go build -o bin/kubectl-ocs ./cmd/kubectl-ocs

cat <<MSG

ocs-ha-operator demo is ready. In another terminal:

  source bin/dev/env && export KUBECONFIG && export PATH="\$PWD/bin:\$PATH"
  kubectl get ocs                                   # pool, homing and backups at a glance
  kubectl ocs status site-a                         # one screen: servers, operation progress, backups, what needs you
  kubectl get ocspool site-a -o yaml                # each server's state and homed users
  curl -s \$OCS_SIM_ADMIN/servers                   # the emulator's view
  curl -s -X POST \$OCS_SIM_ADMIN/servers/ocs2/crash   # kill ocs2, then watch the failover:
  kubectl get uh site-a -w                          # Reconciling (Failover, PROGRESS 1200/2500), then Degraded while ocs2 is down
  curl -s -X POST \$OCS_SIM_ADMIN/servers/ocs2/start   # back: Degraded until ocs2 stays Healthy 30s (failback.stableFor), then Failback, then Ready
  kubectl ocs restore site-a --user sip:user0001@corp.example.com --dry-run --wait   # what a restore from the newest snapshot would add
  curl -s -X POST \$OCS_SIM_ADMIN/gateways/gw2/stop   # PSTN path 2 goes silent: Degraded, PSTNAvailable stays True
  kubectl get ocspool site-a -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.message}{"\\n"}{end}'
  curl -s -X POST "\$OCS_SIM_ADMIN/servers/edge1/stop-service?service=RTCMEDIARELAY"   # one Edge loses A/V
  curl -s -X POST \$OCS_SIM_ADMIN/gateways/gw2/start  # and back (POST /servers/edge1/start likewise)
  kubectl ocs maintenance on site-a ocs1            # drain ocs1 (off brings its users back)
  kubectl ocs backup site-a-contacts --wait         # a snapshot now; kubectl ocs report site-a for a support bundle

The manager runs below; Ctrl-C stops it, the emulator and the control plane.

MSG
bin/manager --metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081
