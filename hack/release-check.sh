#!/usr/bin/env bash
# Checks that the release artefacts in DIR all carry VERSION: the chart package (version and
# appVersion), dist/install.yaml (image tag and version label), the OCI image (tag and label) and
# the kubectl ocs krew manifest (version, and each archive's sha256: release-check-krew.sh).
set -euo pipefail
version="${1:?usage: release-check.sh VERSION DIR}"
dir="${2:?usage: release-check.sh VERSION DIR}"
fail() { echo "release-check: $*" >&2; exit 1; }

chart="${dir}/ocs-ha-operator-${version#v}.tgz"
[[ -f "${chart}" ]] || fail "no chart package ${chart}"
meta="$(tar -xzOf "${chart}" ocs-ha-operator/Chart.yaml)"
grep -qx "version: ${version#v}" <<<"${meta}" || fail "chart version is not ${version#v}"
grep -qx "appVersion: ${version}" <<<"${meta}" || fail "chart appVersion is not ${version}"

grep -q "image: .*:${version}\$" "${dir}/install.yaml" || fail "install.yaml does not run image ${version}"
grep -q "app.kubernetes.io/version: ${version}\$" "${dir}/install.yaml" || fail "install.yaml objects lack the version label"
if grep -q "image: .*:latest\$" "${dir}/install.yaml"; then fail "install.yaml still names :latest"; fi

index="${dir}/image/oci/index.json"
[[ -f "${index}" ]] || fail "no OCI layout in ${dir}/image/oci"
v="${version//./\\.}"
grep -qE "\"org\.opencontainers\.image\.ref\.name\": *\"${v}\"" "${index}" || fail "the image is not tagged ${version}"
grep -rqaE "\"org\.opencontainers\.image\.version\": *\"${v}\"" "${dir}/image/oci/blobs" || fail "the image's labels do not say ${version}"
"$(dirname "$0")/release-check-krew.sh" "${version}" "${dir}"
echo "release-check: chart, install.yaml, image and krew manifest all carry ${version}"
