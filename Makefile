# lvsd: keepalived-compatible VRRP + IPVS director daemon.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/lvsd
# Fuzz budgets are execution counts, not durations: with a duration, Go 1.26's
# coordinator can report its own deadline as a failure (go.dev/issue/75804).
FUZZN ?= 100000

.PHONY: all build test unit race fuzz lint bench demo setup clean deb

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsd

setup:
	./scripts/setup.sh

# The Debian package (docs/packaging.md): dist/lvsd_VERSION_ARCH.deb.
deb: build
	./scripts/deb.sh

# Everything CI runs: set-up, lint, unit + integration tests (as root, with
# CI=true so a lab that cannot start fails), and a short fuzz of each parser.
# The race pass runs every package's unit tests under the race detector;
# -short skips the labs there, which the first pass has run.
test: setup lint build
	CI=$${CI:-true} $(GO) test -count=1 -timeout 30m ./...
	$(MAKE) race
	$(MAKE) fuzz

race:
	CI=$${CI:-true} $(GO) test -race -short -count=1 -timeout 10m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLexer$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/vrrp
	$(GO) test -run '^$$' -fuzz '^FuzzParseAcks$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/ipvs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeDump$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/ipvs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeDaemon$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/ipvs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSync$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/ipvs
	$(GO) test -run '^$$' -fuzz '^FuzzParseConnTable$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/ipvs
	$(GO) test -run '^$$' -fuzz '^FuzzDecryptPKCS8$$' -fuzztime $(FUZZN)x -fuzzminimizetime 10s ./internal/check

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# Each benchmark measures keepalived in the same run; read the ratios.
bench: setup build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	./scripts/bench-config.sh
	$(GO) test -count=1 -timeout 30m -run '^$$' -bench '^BenchmarkVRRPFailover$$' -benchtime 1x -v ./cmd/lvsd | grep -E '^\s+(bench_vrrp_test|failover|lvsd|keepalived)|^(---|ok|FAIL)'
	./scripts/bench-lab.sh
	./scripts/bench-connsync.sh 30s

# The director pair in the lab VM (see README): real lvsd, real IPVS, real TCP.
DEMO_TERMINALS ?= 2000
demo: setup build
	@mkdir -p .lab/bin
	$(GO) build -o .lab/bin/demo ./scripts/demo
	./scripts/lab.sh .lab/bin/demo run --lvsd $(CURDIR)/$(BIN) --config $(CURDIR)/configs/demo.conf --terminals $(DEMO_TERMINALS)

clean:
	rm -rf bin dist
