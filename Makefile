# aigw developer targets. `go test ./...` and `go run ./cmd/aigw run --demo` need nothing else.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/aigw/aigw/internal/version.stamped=$(VERSION)

.PHONY: build test bench lint npm-deps ci clean

build: ## build ./aigw
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o aigw ./cmd/aigw

test: npm-deps ## run every test
	$(GO) test ./...

bench: ## aigw vs a bare reverse proxy vs direct, in one run
	$(GO) run ./bench
	$(GO) run ./internal/mcpstdio/mcpbench

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

npm-deps: ## install the pinned npm packages the MCP tests use
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi

ci: ## what CI runs
	bash .ci/run

clean:
	rm -rf aigw dist
