#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 30s): `make fuzz`, not part of
# `make test` (whose `go test` already runs every seed corpus). Crashers land in testdata/fuzz/.
set -euo pipefail
fuzztime="${1:-30s}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
while IFS= read -r file; do
  pkg="./$(dirname "${file}")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "${file}" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
    echo "fuzz ${pkg} ${target} (${fuzztime})"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "${fuzztime}" "${pkg}" >/tmp/fuzz-$$.log 2>&1; then
      cat /tmp/fuzz-$$.log
      status=1
    fi
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' 2>/dev/null || true)
rm -f /tmp/fuzz-$$.log
exit "${status}"
