# Thin wrapper: the README's commands. Everything real lives in CMake and scripts/.
.PHONY: deps deps-test build build-asan build-fuzz demo test test-release test-asan test-fuzz fuzz bench format clean

JOBS ?= $(shell nproc)
# Seconds per libFuzzer target: `make fuzz` (a long run) and the short run of `make test`.
FUZZ_SECONDS ?= 600
TEST_FUZZ_SECONDS ?= 40
NETSENTRY = build/release/netsentry

deps:
	@bash scripts/install-deps.sh

deps-test:
	@bash scripts/install-deps.sh --test
	@bash scripts/install-npm-tools.sh

build: deps
	@cmake --preset $(if $(CI),ci,release) >/dev/null
	@cmake --build build/release -j $(JOBS)

build-asan: deps
	@cmake --preset $(if $(CI),ci-asan,asan) >/dev/null
	@cmake --build build/asan -j $(JOBS)

# Installs, builds the CLI alone (the tests are built by `make test`) and trains on the built-in demo
# data; prints where the run and the model went.
demo: deps
	@cmake --preset $(if $(CI),ci,release) >/dev/null
	@cmake --build build/release -j $(JOBS) --target netsentry
	@$(NETSENTRY) sample-data --rows 11055 --seed 42 --output build/demo/phishing_demo.csv
	@$(NETSENTRY) train --data build/demo/phishing_demo.csv --model-dir build/demo/final_model

# Installs, builds (release and sanitizers) and runs every test under both, then each fuzz target
# for a short time.
test: deps-test
	@$(MAKE) --no-print-directory test-release
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz

test-release: build
	@ctest --test-dir build/release --output-on-failure -j 2

test-asan: build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  NETSENTRY_SANITIZED=1 ctest --test-dir build/asan --output-on-failure -j 2 -LE slow

# The libFuzzer targets (tests/fuzz, clang with ASan + UBSan).
build-fuzz: deps-test
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_all

test-fuzz: build-fuzz
	@bash tests/fuzz/run.sh $(TEST_FUZZ_SECONDS)

fuzz: build-fuzz
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: build deps-test
	@bash bench/compare_pipeline.sh

format:
	@find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	@rm -rf build
