#!/usr/bin/env bash
# Installs the CRDs into the dev environment (bin/dev/env) and applies the demo's objects:
# config/dev/objects.yaml filled in for this environment (endpoints, gateway ports), plus the emulator's CA as the
# ocs-winrm-ca Secret.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
set -a
# shellcheck source=/dev/null
source "${root}/bin/dev/env"
set +a
kubectl apply --server-side -f "${root}/config/crd/bases" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
{
  sed -e "s|@DEV_DIR@|${root}/bin/dev|g" \
      -e "s|@SIM_USERNAME@|${OCS_SIM_USERNAME}|g" \
      -e "s|@SIM_PASSWORD@|${OCS_SIM_PASSWORD}|g" \
      -e "s|@SIM_ENDPOINT_1@|${OCS_SIM_ENDPOINT_1}|g" \
      -e "s|@SIM_ENDPOINT_2@|${OCS_SIM_ENDPOINT_2}|g" \
      -e "s|@SIM_ENDPOINT_MED1@|${OCS_SIM_ENDPOINT_MED1}|g" \
      -e "s|@SIM_ENDPOINT_MED2@|${OCS_SIM_ENDPOINT_MED2}|g" \
      -e "s|@SIM_ENDPOINT_EDGE1@|${OCS_SIM_ENDPOINT_EDGE1}|g" \
      -e "s|@SIM_ENDPOINT_EDGE2@|${OCS_SIM_ENDPOINT_EDGE2}|g" \
      -e "s|@SIM_GATEWAY_PORT_1@|${OCS_SIM_GATEWAY_PORT_1}|g" \
      -e "s|@SIM_GATEWAY_PORT_2@|${OCS_SIM_GATEWAY_PORT_2}|g" \
      "${root}/config/dev/objects.yaml"
  echo "---"
  kubectl create secret generic ocs-winrm-ca --from-file=ca.crt="${OCS_SIM_CA}" --dry-run=client -o yaml
} | kubectl apply -f - >/dev/null
