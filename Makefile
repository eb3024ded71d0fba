# spendstream — the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/spendstream
PKGS      := ./...
# Packages with concurrency run under the race detector in `make test`.
RACE_PKGS := ./aggregates/... ./consumers/... ./schemas/...

# The private ClickHouse of `make run` (data kept in .local/clickhouse) and of `make test`
# (a throwaway one on other ports, so tests never touch the run's data).
RUN_CH_TCP  ?= 19000
RUN_CH_HTTP ?= 18123
TEST_CH_DIR ?= $(CURDIR)/.local/clickhouse-test
TEST_CH_TCP ?= 19400
TEST_CH_HTTP ?= 18400

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/spendstream
	$(GO) build -o $(BIN) ./cmd/spendstream

.PHONY: run
run: build ## install what is missing, start ClickHouse + spendstream (embedded NATS, demo data); Ctrl-C stops all
	@bash deploy/local/run.sh

.PHONY: test
test: ## install what is missing, start a private ClickHouse, run every test against real NATS + ClickHouse
	@bash deploy/local/test.sh

.PHONY: bench
bench: build ## end-to-end throughput/latency benchmark (ratios vs broker-alone and sink-alone)
	@bash deploy/local/bench.sh

.PHONY: lint
lint: ## gofmt, go vet (and golangci-lint when installed)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else echo "golangci-lint not installed; ran gofmt + go vet"; fi

.PHONY: fmt
fmt: ## gofmt -w
	gofmt -w $$(git ls-files '*.go')

.PHONY: fuzz
fuzz: ## run every fuzzer for 60 s (make test runs them for 10 s each)
	@bash deploy/local/fuzz.sh 60s

.PHONY: clean
clean: ## stop local servers, remove build output and local data
	-CH_DIR=$(TEST_CH_DIR) CH_TCP=$(TEST_CH_TCP) CH_HTTP=$(TEST_CH_HTTP) deploy/local/clickhouse.sh stop
	-deploy/local/clickhouse.sh stop
	rm -rf bin .local
