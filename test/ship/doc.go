// Package ship checks what the project ships besides the manager: the Helm chart (lint, render,
// CRDs equal to config/crd/bases, applied with --dry-run=server to a real API server), the
// install YAML, the Prometheus alerts (promtool test rules on synthetic series, a runbook section
// each) and the Grafana dashboard (every query names a metric the manager serves). helm and
// promtool are built from the Go module proxy by hack/tool.sh.
package ship
