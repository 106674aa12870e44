# ocs-ha-operator — build, test and run.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT ?= $(LOCALBIN)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
KUBECTL ?= kubectl
IMG ?= ghcr.io/ocsha/ocs-ha-operator:latest
# IMAGE_REPO is where make image and make release name the image; the tag is VERSION.
IMAGE_REPO ?= ghcr.io/ocsha/ocs-ha-operator
# VERSION is stamped into the image, the chart and dist/install.yaml; it defaults to the chart's appVersion.
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(CHART)/Chart.yaml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# SOURCE_DATE_EPOCH dates the image: the commit time makes it reproducible.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# PLATFORMS are the image's platforms in make release (make image builds the host's only).
PLATFORMS ?= linux/amd64 linux/arm64
# KREW_PLATFORMS are the kubectl-ocs archives of make release (plugins/ocs.yaml names each one).
KREW_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
# RELEASE_URL is where the release's files are downloaded from (the krew manifest's URIs).
RELEASE_URL ?= https://github.com/ocsha/ocs-ha-operator/releases/download/$(VERSION)
CHART := charts/ocs-ha-operator
GOARCH_HOST := $(shell go env GOARCH)
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
manifests: controller-gen ## Generate CRDs and RBAC from the Go types and markers (and copy them into the chart).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/crd-failback config/crd/bases/ocs.ocsha.io_userhomings.yaml
	$(MAKE) -s chart-sync argocd-actions

ARGOCD_ACTIONS := config/argocd/actions

.PHONY: argocd-actions
argocd-actions: ## Render the OCSPool maintenance-on/off Argo CD actions from their one template (test/gitops checks the copies in argocd-cm.yaml).
	for m in on:true off:false; do \
	  sed "s/@MAINTENANCE@/$${m#*:}/g" $(ARGOCD_ACTIONS)/OCSPool/maintenance.lua.tmpl > $(ARGOCD_ACTIONS)/OCSPool/maintenance-$${m%%:*}/action.lua; \
	done

.PHONY: chart-sync
chart-sync: ## Copy the CRDs, the manager's RBAC rules, the alerts and the dashboard into the Helm chart.
	rm -f $(CHART)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART)/crds/
	cp config/rbac/role.yaml config/rbac/leader_election_role.yaml $(CHART)/files/
	cp config/prometheus/alerts.yaml $(CHART)/files/alerts.yaml
	cp config/grafana/ocs-ha-operator.json $(CHART)/files/dashboard.json

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
	@before=$$(cat config/crd/bases/*.yaml config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go $(CHART)/crds/*.yaml $(CHART)/files/* | sha256sum); \
	$(MAKE) -s manifests generate; \
	after=$$(cat config/crd/bases/*.yaml config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go $(CHART)/crds/*.yaml $(CHART)/files/* | sha256sum); \
	if [ "$$before" != "$$after" ]; then echo "generated files were out of date and have been regenerated: review and commit them"; exit 1; fi

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for tests from the Go module proxy (cached in bin/).
	@hack/setup-envtest.sh >/dev/null

.PHONY: versitygw
versitygw: ## Build versitygw, the S3 server of the S3 tests, from the Go module proxy (cached in bin/ and per user).
	@hack/setup-versitygw.sh >/dev/null

.PHONY: test
test: lint verify-manifests envtest versitygw tools ## Run every test: unit (fuzz seed corpora included), envtest controllers, e2e, S3, chart, image, metrics, alerts, dashboard, dev environment smoke. Deterministic: no timed fuzzing.
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
build: ## Build the manager, the emulator and the kubectl plugin (kubectl-ocs) into bin/.
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/ocs-sim ./hack/ocs-sim
	go build -o $(LOCALBIN)/kubectl-ocs ./cmd/kubectl-ocs

.PHONY: run
run: ## Run the manager against $$KUBECONFIG (see make dev-up).
	go run . --health-probe-bind-address=:8081 --metrics-bind-address=:8080

.PHONY: image
image: ## Build the manager's OCI image for this machine's architecture without a container engine: bin/image/oci (OCI layout) and bin/image/image.tar.
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_HOST) go build -trimpath -ldflags='$(LDFLAGS)' -o $(LOCALBIN)/linux_$(GOARCH_HOST)/manager .
	go run ./hack/image --binary linux/$(GOARCH_HOST)=$(LOCALBIN)/linux_$(GOARCH_HOST)/manager --out $(LOCALBIN)/image \
	  --ref $(IMAGE_REPO):$(VERSION) --version $(VERSION) --revision $(REVISION) --source-date-epoch $(SOURCE_DATE_EPOCH)

LDFLAGS = -s -w -X github.com/ocsha/ocs-ha-operator/internal/version.Version=$(VERSION) -X github.com/ocsha/ocs-ha-operator/internal/version.Revision=$(REVISION)

.PHONY: release
release: chart-sync ## Build VERSION's image for PLATFORMS (dist/image, an OCI layout), the chart package and dist/install.yaml, with VERSION stamped in all three (checked).
	@case "$(VERSION)" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "VERSION=$(VERSION) is not vX.Y.Z"; exit 1;; esac
	rm -rf dist $(LOCALBIN)/release && mkdir -p dist $(LOCALBIN)/release/overlay
	set -e; bins=""; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=$(LOCALBIN)/release/$${os}_$${arch}/manager; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags='$(LDFLAGS)' -o $$out .; \
	  bins="$$bins --binary $$p=$$out"; \
	done; \
	go run ./hack/image $$bins --out dist/image --ref $(IMAGE_REPO):$(VERSION) --version $(VERSION) --revision $(REVISION) --source-date-epoch $(SOURCE_DATE_EPOCH)
	$$(hack/tool.sh helm) package $(CHART) --version $(VERSION:v%=%) --app-version $(VERSION) --destination dist
	hack/release-install-yaml.sh $(VERSION) $(IMAGE_REPO) > dist/install.yaml
	$(MAKE) -s release-plugin
	hack/release-check.sh $(VERSION) dist

.PHONY: release-plugin
release-plugin: ## Build the kubectl-ocs archives for KREW_PLATFORMS into dist/ and render the krew manifest dist/ocs.yaml (URIs under RELEASE_URL, each archive's sha256).
	@case "$(VERSION)" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "VERSION=$(VERSION) is not vX.Y.Z"; exit 1;; esac
	mkdir -p dist
	set -e; for p in $(KREW_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; dir=$(LOCALBIN)/release/plugin_$${os}_$${arch}; bin=kubectl-ocs; \
	  [ "$$os" = windows ] && bin=kubectl-ocs.exe; \
	  rm -rf $$dir && mkdir -p $$dir && cp LICENSE $$dir/; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags='$(LDFLAGS)' -o $$dir/$$bin ./cmd/kubectl-ocs; \
	  tar -C $$dir --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner -cf - $$bin LICENSE | gzip -n > dist/kubectl-ocs_$${os}_$${arch}.tar.gz; \
	done
	go run ./hack/release-krew --template plugins/ocs.yaml --version $(VERSION) --release-url $(RELEASE_URL) --archives dist --out dist/ocs.yaml

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
golangci-lint: ## Build the pinned golangci-lint (cached per user, like helm and promtool).
	@GOLANGCI_LINT_VERSION=$(GOLANGCI_LINT_VERSION) hack/tool.sh golangci-lint >/dev/null

.PHONY: tools
tools: ## Build helm and promtool (pinned, from the Go module proxy) for the chart and alert tests.
	@hack/tool.sh helm >/dev/null
	@hack/tool.sh promtool >/dev/null

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
