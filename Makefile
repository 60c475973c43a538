# dropsync — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Pinned tool versions. Installed into .bin/ by `make tools`; nothing global.
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GOLANGCI_LINT_VERSION      := v2.15.0
GRPCURL_VERSION            := v1.9.4

BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)
# Every module of the workspace, as package patterns (./pkg/... ./proto/... ...).
PKGS = $(shell go list -m -f '{{.Dir}}/...' | sed 's|^$(CURDIR)|.|')
# Services whose configuration tables `make generate` writes into the README.
SERVICES := devstack orders notifier aliexpress shopify woocommerce wix
BENCHTIME ?= 2s

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Start dropsync on the embedded default, with simulators where no credentials are set (data in .data/)
	go run ./services/devstack

.PHONY: test
test: ## Run every test (race detector, shuffled, uncached)
	go test -race -shuffle=on -count=1 -timeout 15m $(PKGS)

.PHONY: chaos
chaos: ## Chaos suite, long mode: every service, nats-server and the simulators as processes, SIGKILLed at random (~10 min); `make test` runs the short mode
	go run ./services/chaos -mode long

.PHONY: chaos-recovery
chaos-recovery: ## Measure recovery from a 30 s NATS outage under 2 orders/s: backlog drain time, tracking -> store p50/p99 vs steady state (~6 min; not in `make test`)
	go run ./services/chaos -mode recovery

.PHONY: bench
bench: ## Run the benchmarks; each figure is printed next to its baseline from the same run
	go test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS) | tee bench.out

# Every fuzz target, as package:Function.
FUZZ_TARGETS := \
	./pkg/order:FuzzOrder ./pkg/bus:FuzzToken ./pkg/eventstore/jetstream:FuzzSubject \
	./services/shopify/internal/domain:FuzzWebhook \
	./services/woocommerce/internal/domain:FuzzParseWebhookOrder \
	./services/wix/internal/domain:FuzzDecodeMessage \
	./services/aliexpress/internal/aeapi:FuzzParseCreateOrder ./services/aliexpress/internal/aeapi:FuzzParseOrder \
	./services/aliexpress/internal/aeapi:FuzzParseTracking ./services/aliexpress/internal/aeapi:FuzzParseToken \
	./services/aliexpress/internal/aeapi:FuzzParseError

.PHONY: fuzz
fuzz: ## Fuzz the order aggregate and every webhook and AliExpress response decoder, FUZZTIME each (default 60s; CI runs 3s)
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn in $$pkg"; \
	  go test -run '^$$' -fuzz "^$$fn$$" -fuzztime $${FUZZTIME:-60s} $$pkg || exit 1; \
	done

.PHONY: generate
generate: tools ## Regenerate protobuf code and the README's configuration tables
	buf generate
	@for svc in $(SERVICES); do \
	  go run ./services/$$svc -config-docs > .bin/$$svc-config.md; \
	  awk -v svc=$$svc -v f=.bin/$$svc-config.md ' \
	    $$0 == "<!-- config:" svc ":begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; next } \
	    $$0 == "<!-- config:" svc ":end -->" { skip = 0 } !skip' README.md > .bin/README.md; \
	  mv .bin/README.md README.md; \
	done

.PHONY: check-generated
check-generated: generate ## Fail if generated code or docs are stale
	@git diff --exit-code -- proto README.md || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto)" || { git status --porcelain -- proto; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: lint
lint: tools ## go vet, buf lint, gofmt and golangci-lint
	buf lint
	go vet $(PKGS)
	@out="$$(gofmt -l pkg proto services)"; test -z "$$out" || { echo "gofmt would change: $$out"; exit 1; }
	golangci-lint run $(PKGS)

.PHONY: ci
ci: check-generated lint test ## What CI runs

# Each tool is installed once per pinned version: .bin/.<tool>-<version> stamps it.
define tool
$(BIN)/.$(1)-$(2):
	GOBIN=$(BIN) go install $(3)@$(2)
	@touch $$@
TOOLS += $(BIN)/.$(1)-$(2)
endef
$(eval $(call tool,buf,$(BUF_VERSION),github.com/bufbuild/buf/cmd/buf))
$(eval $(call tool,protoc-gen-go,$(PROTOC_GEN_GO_VERSION),google.golang.org/protobuf/cmd/protoc-gen-go))
$(eval $(call tool,protoc-gen-go-grpc,$(PROTOC_GEN_GO_GRPC_VERSION),google.golang.org/grpc/cmd/protoc-gen-go-grpc))
$(eval $(call tool,golangci-lint,$(GOLANGCI_LINT_VERSION),github.com/golangci/golangci-lint/v2/cmd/golangci-lint))
$(eval $(call tool,grpcurl,$(GRPCURL_VERSION),github.com/fullstorydev/grpcurl/cmd/grpcurl))

.PHONY: tools
tools: $(TOOLS) ## Install the pinned tools into .bin/

.PHONY: clean
clean: ## Remove .bin/, .data/ and benchmark output
	rm -rf $(BIN) .data bench.out
