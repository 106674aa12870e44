#!/usr/bin/env bash
# Checks the krew manifest of a release: DIR/ocs.yaml says VERSION, names every
# DIR/kubectl-ocs_<os>_<arch>.tar.gz archive with its sha256, names no other archive, and each
# archive holds the plugin binary and LICENSE.
set -euo pipefail
version="${1:?usage: release-check-krew.sh VERSION DIR}"
dir="${2:?usage: release-check-krew.sh VERSION DIR}"
fail() { echo "release-check: $*" >&2; exit 1; }

manifest="${dir}/ocs.yaml"
[[ -f "${manifest}" ]] || fail "no krew manifest ${manifest}"
grep -qx "  version: ${version}" "${manifest}" || fail "the krew manifest's spec.version is not ${version}"
if grep -q '{{' "${manifest}"; then fail "the krew manifest still holds template actions"; fi

shopt -s nullglob
archives=("${dir}"/kubectl-ocs_*.tar.gz)
(( ${#archives[@]} > 0 )) || fail "no kubectl-ocs archive in ${dir}"
for a in "${archives[@]}"; do
  name="$(basename "${a}")"
  sum="$(sha256sum "${a}" | cut -d' ' -f1)"
  # The uri line and the sha256 line right after it.
  listed="$(grep -A1 -E "^    uri: .*/${name//./\\.}\$" "${manifest}" | sed -n 's/^    sha256: //p')"
  [[ -n "${listed}" ]] || fail "the krew manifest does not name ${name}"
  [[ "${listed}" == "${sum}" ]] || fail "the krew manifest's sha256 of ${name} is ${listed}, the archive's is ${sum}"
  bin=kubectl-ocs; [[ "${name}" == *_windows_* ]] && bin=kubectl-ocs.exe
  contents="$(tar -tzf "${a}")"
  grep -qx "${bin}" <<<"${contents}" || fail "${name} lacks ${bin}"
  grep -qx "LICENSE" <<<"${contents}" || fail "${name} lacks LICENSE"
done
while read -r uri; do
  [[ -f "${dir}/$(basename "${uri}")" ]] || fail "the krew manifest names ${uri}, which the release lacks"
done < <(sed -n 's/^    uri: //p' "${manifest}")
echo "release-check: the krew manifest names ${#archives[@]} archives with their sha256 for ${version}"
