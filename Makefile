# usersvc. Tools are pinned here and fetched by the go command itself.
GO             ?= go
GOLANGCI_LINT  := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
REDOCLY        := npx --yes @redocly/cli@2.77.0
SPECTRAL       := npx --yes @stoplight/spectral-cli@6.16.3
MAILPIT        := $(GO) run github.com/axllent/mailpit@v1.33.1
FUZZTIME       ?= 1m
BIN            := bin/usersvc
TEST_FLAGS     ?= -race -count=1 -timeout 10m

.PHONY: soak run build test unit fuzz generate check-generate lint lint-go lint-openapi vet migrate mail bench screenshot clean

## run: serve on :8000 with the embedded SQLite store under ./data
run:
	$(GO) run ./cmd/usersvc serve

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/usersvc

## test: every fuzz target briefly, then the whole suite (PostgreSQL and
## Mailpit included) with the race detector
test: vet
	./scripts/fuzz.sh 1000x
	$(GO) test $(TEST_FLAGS) ./...

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## unit: the fast tests only (no database server, no binary)
unit:
	$(GO) test $(TEST_FLAGS) ./domain/... ./app/... ./adapters/memory/... ./adapters/httpapi/...

vet:
	$(GO) vet ./...

## generate: moq mocks (moq is a go.mod tool)
generate:
	$(GO) generate ./...

## check-generate: fail if generated files are stale
check-generate: generate
	git diff --exit-code -- '*.go'

## lint: golangci-lint (with the hexagon's import rules) and both OpenAPI linters
lint: lint-go lint-openapi

lint-go:
	$(GOLANGCI_LINT) run ./...

## lint-openapi: Redocly's recommended rules (redocly.yaml) and Spectral's
## spectral:oas (.spectral.yaml) on the OpenAPI document; any error or
## warning fails (Node.js's npx fetches both, pinned)
lint-openapi:
	$(REDOCLY) lint
	$(SPECTRAL) lint --fail-severity=warn adapters/httpapi/openapi.json

## migrate: apply pending migrations to DATABASE_URL
migrate:
	$(GO) run ./cmd/usersvc migrate up

## mail: Mailpit for people: web UI on :8025, SMTP on :1025 (SMTP_URL=smtp://localhost:1025)
mail:
	$(MAILPIT) --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025

## soak: steady mixed load on one instance on PostgreSQL for SOAK_DURATION
## (10m), checking that RSS and goroutines stay flat (not part of make test)
soak:
	SOAK_DURATION=$(or $(SOAK_DURATION),10m) $(GO) test -tags soak -run TestSoak -count=1 -v -timeout 30m ./test/

## bench: benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## screenshot: the README's picture of the console's dashboard
## (docs/console-dashboard.png), taken by the ADMIN's browser test
screenshot:
	CONSOLE_SCREENSHOT=$(CURDIR)/docs/console-dashboard.png $(GO) test -run '^TestConsoleAdmin$$' -count=1 -v ./test/ | grep -E 'dashboard saved|^(ok|FAIL|---)'

clean:
	rm -rf bin
