# ocs-ha-operator — build, test and run.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
GOLANGCI_LINT_VERSION ?= v2.15.0
KUBECTL ?= kubectl
IMG ?= ghcr.io/ocsha/ocs-ha-operator:latest
GO_TEST_FLAGS ?=
FUZZTIME ?= 30s
# BENCH_FLAGS passes flags to hack/bench, e.g. BENCH_FLAGS=--scale-duration=1m.
BENCH_FLAGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the Go types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Fail when gofmt would change a file, go vet or golangci-lint (.golangci.yml) finds a problem.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-manifests
verify-manifests: controller-gen ## Fail when the generated files differ from what the types generate.
	@before=$$(cat config/crd/bases/*.yaml config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go | sha256sum); \
	$(MAKE) -s manifests generate; \
	after=$$(cat config/crd/bases/*.yaml config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go | sha256sum); \
	if [ "$$before" != "$$after" ]; then echo "generated files were out of date and have been regenerated: review and commit them"; exit 1; fi

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for tests from the Go module proxy (cached in bin/).
	@hack/setup-envtest.sh >/dev/null

.PHONY: versitygw
versitygw: ## Build versitygw, the S3 server of the S3 tests, from the Go module proxy (cached in bin/ and per user).
	@hack/setup-versitygw.sh >/dev/null

.PHONY: test
test: lint verify-manifests envtest versitygw ## Run every test: unit (fuzz seed corpora included), envtest controllers, e2e, dev environment smoke. Deterministic: no timed fuzzing.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go test $(GO_TEST_FLAGS) -count=1 -timeout 20m ./...
	hack/dev-smoke.sh

.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (default 30s); not part of make test. Commit crashers found under testdata/fuzz/.
	hack/fuzz-smoke.sh $(FUZZTIME)

.PHONY: bench
bench: envtest ## Measure failover, drain, backup, the manual procedure and memory at scale, then the Go micro-benchmarks; writes docs/benchmarks.md (not part of make test).
	mkdir -p $(LOCALBIN)/bench
	go build -o $(LOCALBIN)/bench/bench ./hack/bench
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" $(LOCALBIN)/bench/bench $(BENCH_FLAGS)

##@ Build

.PHONY: build
build: ## Build the manager and the emulator into bin/.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/ocs-sim ./hack/ocs-sim

.PHONY: run
run: ## Run the manager against $$KUBECONFIG (see make dev-up).
	go run . --health-probe-bind-address=:8081 --metrics-bind-address=:8080

##@ Local environment

.PHONY: dev-up
dev-up: ## Start a local control plane and the emulator in the background (bin/dev/kubeconfig, bin/dev/env).
	hack/dev-up.sh

.PHONY: dev-down
dev-down: ## Stop what dev-up started.
	hack/dev-down.sh

.PHONY: demo
demo: ## Everything on this machine: control plane, emulator, CRDs, demo objects, manager. Ctrl-C stops it.
	hack/demo.sh

##@ Deployment

.PHONY: install
install: ## Install the CRDs into the cluster of $$KUBECONFIG.
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every object of these kinds).
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: ## Deploy the manager (image $$IMG) with config/default.
	cd config/manager && $(KUBECTL) kustomize . >/dev/null
	$(KUBECTL) kustomize config/default | sed 's|ghcr.io/ocsha/ocs-ha-operator:latest|$(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove what deploy installed.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

.PHONY: golangci-lint
golangci-lint: ## Build the pinned golangci-lint into bin/ (again when the pin changes).
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) "; then \
		mkdir -p $(LOCALBIN); \
		echo "go install golangci-lint $(GOLANGCI_LINT_VERSION)"; \
		GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
