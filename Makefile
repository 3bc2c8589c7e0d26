# Skyrelay: `make run` starts the gateway, `make test` runs every test
# against the real peers (installing them when missing).

GO       ?= go
BIN      := bin
CONFIG   ?= configs/skyrelay.yml
FUZZTIME ?= 30s

.PHONY: all build run sim test peers bench soak fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN)/skyrelay ./cmd/skyrelay
	$(GO) build -o $(BIN)/docksim ./cmd/docksim

run: build
	$(BIN)/skyrelay -config $(CONFIG)

# The simulated Dock 3 and Pilot 2 against `make run`'s embedded broker.
sim: build
	$(BIN)/docksim -broker tcp://127.0.0.1:1883

# Test peers (ffmpeg, Chromium, Mosquitto, SIPp, GStreamer, playwright-core)
# are installed when missing; a machine where that is impossible stops here
# with the list of what is missing.
peers:
	bash scripts/install-test-peers.sh

test: peers lint
	$(GO) test -count=1 -timeout 12m ./...

bench: peers build
	SKYRELAY_BIN=$(BIN)/skyrelay $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./bench/...
	$(GO) test -run '^$$' -bench . -timeout 10m ./gb28181/... ./control/...
	$(GO) test -run '^$$' -bench 'WHIPToWHEP|PullReconnect' -benchtime 1x -timeout 5m ./webrtc/ ./ingest/rtsppull/
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./gateway/record/

# The soak (docs/testing.md): 50 streams with churning publishers and
# viewers and malformed input on every port, for SOAK_DURATION.
SOAK_DURATION ?= 30m
SOAK_TIMEOUT  ?= 45m
soak: peers build
	SKYRELAY_SOAK=1 SOAK_DURATION=$(SOAK_DURATION) SKYRELAY_BIN=$(BIN)/skyrelay \
		$(GO) test -count=1 -v -run '^TestSoak$$' -timeout $(SOAK_TIMEOUT) ./bench/soak/

# A bounded fuzzing campaign over every parser we wrote.
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
