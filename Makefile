# kommo-grpc: the two commands are `make run` and `make test`. Every target installs what it
# needs on a fresh Debian 12 machine (apt-get for the toolchain and libraries, npm for buf).

SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
BUF := tools/node_modules/@bufbuild/buf-linux-x64/bin/buf

# Compiles go through ccache when it is installed (`make deps` installs it). Paths are taken
# relative to the checkout and the build directory is not hashed, so a fresh clone anywhere on a
# machine (CI's) reuses the objects of earlier builds of the same sources: a warm CI run
# recompiles only what changed.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
LAUNCHER = $(if $(shell command -v ccache),-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# Debian packages the build and the tests need.
APT_PACKAGES := build-essential cmake ninja-build pkg-config clang-format \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev grpc-proto \
  libcurl4-openssl-dev rapidjson-dev libgtest-dev libgmock-dev python3 nodejs clang libclang-rt-14-dev \
  python3-grpcio python3-protobuf prometheus-cpp-dev libcivetweb-dev ccache \
  libhiredis-dev redis-server

.PHONY: all deps build test run asan fuzz lint format clean help bench

all: build

help:
	@echo "make run    build, then serve: the emulator + server (no credentials), or real Kommo"
	@echo "make test   build, then run every test (unit, component, integration, end to end)"
	@echo "make build  configure and build into $(BUILD_DIR)/ (binaries in $(BUILD_DIR)/bin)"
	@echo "make asan   build into $(ASAN_BUILD_DIR)/ with ASan+UBSan and run every test"
	@echo "make lint   buf lint, buf format and clang-format checks"
	@echo "make bench  build, then run the benchmark scenarios and print the table (bench/README.md)"
	@echo "make deps   install the Debian and npm packages the others need"

# Installs only what is missing, so a warm machine pays a few dpkg queries.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if ! command -v npm >/dev/null; then missing="$$missing npm"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ ! -x $(BUF) ]; then \
	  echo "Installing buf (npm, pinned in tools/package-lock.json)"; \
	  npm ci --prefix tools --no-audit --no-fund --loglevel=error >/dev/null; \
	fi

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKOMMO_WERROR=ON $(LAUNCHER)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 300

run: build
	@scripts/run.sh $(BUILD_DIR)/bin

# Issue 7's benchmark (bench/README.md): builds only the server, the echo server and the driver,
# runs the scenarios (about a minute, at most 5), prints the table. BENCH_FLAGS passes flags on.
bench: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kommo-bench kommo-grpc-server kommo-bench-echo-server
	@rm -rf $(BUILD_DIR)/bench-results && mkdir -p $(BUILD_DIR)/bench-results
	$(BUILD_DIR)/bin/kommo-bench --log_dir=$(BUILD_DIR)/bench-results --markdown_out=$(BUILD_DIR)/bench-results/table.md \
	  --revision="$$(git rev-parse --short HEAD 2>/dev/null)$$(git diff --quiet HEAD -- server 2>/dev/null || echo ' + uncommitted server changes')" \
	  $(BENCH_FLAGS)

asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKOMMO_WERROR=ON $(LAUNCHER) \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

lint: deps
	$(BUF) lint
	$(BUF) format --exit-code --diff
	clang-format --dry-run --Werror $$(git ls-files '*.cc' '*.h')

format: deps
	$(BUF) format -w
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)

# libFuzzer over everything that parses Kommo's bytes (clang, ASan+UBSan), seeded with the test
# fixtures; FUZZ_SECONDS bounds the run.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKOMMO_FUZZ=ON $(LAUNCHER) \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fsanitize-ignorelist=$(CURDIR)/fuzz/ubsan_ignorelist.txt" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target kommo_bytes_fuzzer
	mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && bin/kommo_bytes_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -print_final_stats=1 corpus $(CURDIR)/tests/testdata/kommo
