#!/usr/bin/env bash
# Renders config/default for a release: the image VERSION of REPO, and the version label on every
# object. Prints the YAML (make release writes it to dist/install.yaml).
set -euo pipefail
version="${1:?usage: release-install-yaml.sh VERSION REPO}"
repo="${2:?usage: release-install-yaml.sh VERSION REPO}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
overlay="${root}/bin/release/overlay"
mkdir -p "${overlay}"
cat >"${overlay}/kustomization.yaml" <<YAML
resources:
- ../../../config/default
images:
- name: ghcr.io/ocsha/ocs-ha-operator
  newName: ${repo}
  newTag: ${version}
labels:
- pairs:
    app.kubernetes.io/version: ${version}
  includeSelectors: false
YAML
echo "# ocs-ha-operator ${version}: kubectl apply --server-side -f install.yaml"
kubectl kustomize "${overlay}"
