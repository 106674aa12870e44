#!/usr/bin/env bash
# Starts, in the background, a local control plane (kube-apiserver + etcd) and the emulator
# (front ends ocs1 and ocs2, Mediation servers med1 and med2, Edges edge1 and edge2, PSTN
# gateways gw1 and gw2), writes bin/dev/kubeconfig and bin/dev/env, and returns when both answer.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
dev="${root}/bin/dev"
mkdir -p "${dev}"

SIM_FLAGS="${SIM_FLAGS:---users 5000 --contacts-per-user 20}"
SIM_BASE_PORT="${SIM_BASE_PORT:-15985}"
SIM_ADMIN="${SIM_ADMIN:-127.0.0.1:18080}"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive "${dev}/dev-env.pid" || alive "${dev}/ocs-sim.pid"; then
  echo "dev environment already running (make dev-down stops it)"
  exit 0
fi

assets="$(hack/setup-envtest.sh)"
go build -o bin/dev-env ./hack/dev-env
go build -o bin/ocs-sim ./hack/ocs-sim
rm -f "${dev}/kubeconfig" "${dev}/env"

# setsid gives each a process group of its own, so dev-down can stop it with all its children.
KUBEBUILDER_ASSETS="${assets}" setsid "${root}/bin/dev-env" --kubeconfig-out "${dev}/kubeconfig" \
  >"${dev}/dev-env.log" 2>&1 </dev/null &
echo $! >"${dev}/dev-env.pid"

username=ocsadmin
password="dev-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# shellcheck disable=SC2086
setsid "${root}/bin/ocs-sim" --servers ocs1,ocs2 --mediation med1,med2 --edge edge1,edge2 --gateways 2 \
  --tls --cert-out "${dev}/ocs-sim-ca.crt" \
  --base-port "${SIM_BASE_PORT}" --admin "${SIM_ADMIN}" --username "${username}" --password "${password}" \
  ${SIM_FLAGS} >"${dev}/ocs-sim.log" 2>&1 </dev/null &
echo $! >"${dev}/ocs-sim.pid"

deadline=$((SECONDS + 120))
until [ -s "${dev}/kubeconfig" ] && grep -q "ocs-sim ready" "${dev}/ocs-sim.log" 2>/dev/null; do
  if [ ${SECONDS} -ge ${deadline} ] || ! alive "${dev}/dev-env.pid" || ! alive "${dev}/ocs-sim.pid"; then
    echo "dev environment did not start; logs:" >&2
    tail -n 20 "${dev}/dev-env.log" "${dev}/ocs-sim.log" >&2 || true
    hack/dev-down.sh >/dev/null 2>&1 || true
    exit 1
  fi
  sleep 0.5
done
until kubectl --kubeconfig "${dev}/kubeconfig" get --raw /readyz >/dev/null 2>&1; do
  [ ${SECONDS} -lt ${deadline} ] || { echo "kube-apiserver not ready" >&2; exit 1; }
  sleep 0.5
done

# The gateways listen on random ports; the admin API names them (gw1 first).
mapfile -t gateway_ports < <(curl -fsS "http://${SIM_ADMIN}/gateways" | grep -o '"port": *[0-9]*' | grep -o '[0-9]*$')
[ "${#gateway_ports[@]}" -eq 2 ] || { echo "the emulator reports ${#gateway_ports[@]} gateways, want 2" >&2; exit 1; }

# Endpoints follow the servers' order: ocs1, ocs2, med1, med2, edge1, edge2 (base-port + index).
cat >"${dev}/env" <<ENV
KUBECONFIG=${dev}/kubeconfig
OCS_SIM_ADMIN=http://${SIM_ADMIN}
OCS_SIM_USERNAME=${username}
OCS_SIM_PASSWORD=${password}
OCS_SIM_CA=${dev}/ocs-sim-ca.crt
OCS_SIM_ENDPOINT_1=https://127.0.0.1:${SIM_BASE_PORT}/wsman
OCS_SIM_ENDPOINT_2=https://127.0.0.1:$((SIM_BASE_PORT + 1))/wsman
OCS_SIM_ENDPOINT_MED1=https://127.0.0.1:$((SIM_BASE_PORT + 2))/wsman
OCS_SIM_ENDPOINT_MED2=https://127.0.0.1:$((SIM_BASE_PORT + 3))/wsman
OCS_SIM_ENDPOINT_EDGE1=https://127.0.0.1:$((SIM_BASE_PORT + 4))/wsman
OCS_SIM_ENDPOINT_EDGE2=https://127.0.0.1:$((SIM_BASE_PORT + 5))/wsman
OCS_SIM_GATEWAY_PORT_1=${gateway_ports[0]}
OCS_SIM_GATEWAY_PORT_2=${gateway_ports[1]}
ENV
chmod 600 "${dev}/env"
echo "dev environment ready: source bin/dev/env (KUBECONFIG=${dev}/kubeconfig, emulator admin http://${SIM_ADMIN})"
