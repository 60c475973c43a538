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
BENCHSTAT_VERSION          := v0.0.0-20260908200009-22c9c6c9d4da

BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)
# Every module of the workspace, as package patterns (./pkg/... ./proto/... ...).
PKGS = $(shell go list -m -f '{{.Dir}}/...' | sed 's|^$(CURDIR)|.|')
# Every module's directory (pkg proto services/...), for the per-module checks.
MODULES = $(shell go list -m -f '{{.Dir}}' | sed 's|^$(CURDIR)/||')
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

# Targets of `make bench`'s ratio table: benchmark (top-level name) = the
# least ratio of baseline ns/op to measured ns/op (throughput against the
# baseline sub-benchmark of the same group, run on the same server).
BENCH_TARGETS := Ingest=0.5 ActiveOrdersBeyondCache=0.5 LongOrdersBeyondCache=0.5

.PHONY: bench
bench: $(BIN)/.benchstat-$(BENCHSTAT_VERSION) ## Run the benchmarks, print the ratio table (baseline, target per row) and compare with the previous run (benchstat)
	@test ! -f bench.out || mv bench.out bench.old
	go test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS) | tee bench.out
	@$(MAKE) --no-print-directory bench-table
	@if [ -f bench.old ]; then benchstat bench.old bench.out; else benchstat bench.out; fi

.PHONY: bench-table
bench-table: ## Print the ratio table of bench.out: each measured sub-benchmark against its group's baseline= sub-benchmark
	@awk -v targets="$(BENCH_TARGETS)" ' \
	  BEGIN { n = split(targets, t, " "); for (i = 1; i <= n; i++) { split(t[i], kv, "="); target[kv[1]] = kv[2] } \
	          printf "%-72s %7s  %-40s %s\n", "benchmark", "ratio", "baseline", "target" } \
	  /^Benchmark/ && $$4 == "ns/op" { \
	    name = $$1; sub(/-[0-9]+$$/, "", name); k = split(name, part, "/"); \
	    group = part[1]; for (i = 2; i < k; i++) group = group "/" part[i]; \
	    top = part[1]; sub(/^Benchmark/, "", top); \
	    if (part[k] ~ /^baseline=/) { base[group] = base[group] SUBSEP part[k]; ns[group, part[k]] = $$3; next } \
	    rows[++m] = name; rgroup[m] = group; rns[m] = $$3; rtop[m] = top } \
	  END { for (i = 1; i <= m; i++) { nb = split(base[rgroup[i]], bs, SUBSEP); \
	          for (j = 2; j <= nb; j++) printf "%-72s %6.2fx  %-40s %s\n", rows[i], ns[rgroup[i], bs[j]] / rns[i], bs[j], \
	            (rtop[i] in target ? target[rtop[i]] : "-") } }' bench.out

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
generate: tools ## Regenerate protobuf code, the README's configuration tables and the NATS users (deploy/k8s/nats)
	buf generate
	go test -count=1 -run '^TestGenerated$$' ./pkg/natsperm -update
	@for svc in $(SERVICES); do \
	  go run ./services/$$svc -config-docs > .bin/$$svc-config.md; \
	  awk -v svc=$$svc -v f=.bin/$$svc-config.md ' \
	    $$0 == "<!-- config:" svc ":begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; next } \
	    $$0 == "<!-- config:" svc ":end -->" { skip = 0 } !skip' README.md > .bin/README.md; \
	  mv .bin/README.md README.md; \
	done

.PHONY: check-generated
check-generated: generate ## Fail if generated code or docs are stale
	@git diff --exit-code -- proto README.md deploy/k8s/nats || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto deploy/k8s/nats)" || { git status --porcelain -- proto deploy/k8s/nats; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: tidy
tidy: ## go mod tidy every module on its own (GOWORK=off), then sync the workspace
	@for m in $(MODULES); do echo "tidy $$m"; (cd $$m && GOWORK=off go mod tidy); done
	go work sync

.PHONY: check-modules
check-modules: ## Fail unless every module is tidy and builds, vets and installs on its own (GOWORK=off)
	@for m in $(MODULES); do \
	  echo "module $$m"; \
	  (cd $$m && GOWORK=off go mod tidy -diff && GOWORK=off go build ./... && GOWORK=off go vet ./... >/dev/null) \
	    || { echo "module $$m does not stand alone: run 'make tidy' and commit"; exit 1; }; \
	done
	@for s in $(SERVICES); do \
	  (cd services/$$s && GOWORK=off GOBIN=$(BIN)/install-check go install .) || { echo "go install of services/$$s failed"; exit 1; }; \
	done

.PHONY: lint
lint: tools ## go vet, buf lint, gofmt and golangci-lint
	buf lint
	go vet $(PKGS)
	@out="$$(gofmt -l pkg proto services)"; test -z "$$out" || { echo "gofmt would change: $$out"; exit 1; }
	golangci-lint run $(PKGS)

.PHONY: ci
ci: check-generated check-modules lint test ## What CI runs

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
$(eval $(call tool,benchstat,$(BENCHSTAT_VERSION),golang.org/x/perf/cmd/benchstat))

.PHONY: tools
tools: $(TOOLS) ## Install the pinned tools into .bin/

.PHONY: clean
clean: ## Remove .bin/, .data/ and benchmark output
	rm -rf $(BIN) .data bench.out bench.old
