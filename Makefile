# sealsync build and test entry points. On a fresh machine only two are
# needed: `make demo` and `make test`; both build what they need into
# ~/.cache/sealsync first (see hack/tools.sh).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
TOOLS_SH  := hack/tools.sh
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X github.com/sealsync/sealsync/internal/version.Version=$(VERSION)
# Two cores: two test binaries at a time, each free to use both.
TEST_P    ?= 2
TEST_FLAGS ?=
# The longest test packages, named first so that they start first: with
# two at a time, the run then ends near the longest one's own time.
SLOW_PKGS := ./test/externalsecrets/ ./internal/controller/externalsecrets/ ./internal/controller/sealedsecrets/ ./internal/controller/ ./internal/cli/ ./providers/vault/ ./test/disaster/
BENCH     ?= .
# Flags of `go run ./test/bench unseal`, e.g. BENCH_FLAGS='-skip-slow -o bench.md'.
BENCH_FLAGS ?=
# Flags of `go run ./test/bench eso`, e.g. ESO_BENCH_FLAGS='-cycles 1 -o eso.md'.
ESO_BENCH_FLAGS ?=
# Flags of `go run ./test/bench argocd`, e.g. ARGOCD_BENCH_FLAGS='-runs 3 -o argocd.md'.
ARGOCD_BENCH_FLAGS ?=
# Flags of `go run ./test/bench aws`, e.g. AWS_BENCH_FLAGS='-batch=false -o aws.md'.
AWS_BENCH_FLAGS ?=

tool = $$($(TOOLS_SH) --print-dir $(1))/$(2)

.PHONY: tools
tools: ## Build the test peers and dev tools into the cache.
	$(TOOLS_SH)

.PHONY: generate
generate: ## Regenerate api/externalsecrets/v1beta1, deepcopy code and CRD manifests (config/crd and the chart).
	hack/gen-externalsecrets-v1beta1.sh
	$(call tool,controller-gen,controller-gen) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(call tool,controller-gen,controller-gen) crd:crdVersions=v1,generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=config/crd/bases
	rm -rf charts/sealsync/files/crds && mkdir -p charts/sealsync/files/crds && cp config/crd/bases/*.yaml charts/sealsync/files/crds/
	mkdir -p charts/sealsync/files/argocd && cp config/argocd/plugin.yaml charts/sealsync/files/argocd/

.PHONY: check-generate
check-generate: ## Fail if generated files are out of date.
	hack/check-generate.sh

.PHONY: build
build: ## Build bin/kubeseal and bin/controller.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

.PHONY: lint
lint: ## go vet and staticcheck.
	$(GO) vet ./...
	$(call tool,staticcheck,staticcheck) ./...

.PHONY: test
test: tools lint check-generate ## Everything: vet, staticcheck, generated files, all tests.
	$(GO) test -p $(TEST_P) -count=1 $(TEST_FLAGS) $(SLOW_PKGS) ./...

.PHONY: test-short
test-short: ## Unit tests only (no control plane, no peers).
	$(GO) test -short ./...

.PHONY: demo
demo: build ## Run the controller on a local control plane: seal, unseal, rotate, sync.
	$(TOOLS_SH) envtest
	hack/demo.sh

.PHONY: bench
bench: ## Go benchmarks (seal/unseal, key backup/restore, reencrypt), then the controllers on a real API server: unseal against Bitnami, 1,000 ExternalSecrets from Vault, 500 from AWS, the Argo CD plugin (test/bench, ~27 min, root).
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./crypto/... ./keybackup/... ./internal/reencrypt/...
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 3x ./test/disaster/...
	$(GO) run ./test/bench unseal $(BENCH_FLAGS)
	$(GO) run ./test/bench eso $(ESO_BENCH_FLAGS)
	$(GO) run ./test/bench argocd $(ARGOCD_BENCH_FLAGS)
	$(GO) run ./test/bench aws $(AWS_BENCH_FLAGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s).
	hack/fuzz.sh $${FUZZTIME:-30s}

.PHONY: clean
clean:
	rm -rf $(BIN)
