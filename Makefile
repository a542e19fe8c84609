# Top-level entry points. `make` builds into build/ (binaries in build/bin/).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
TORTURE_KILLS ?= 200
TORTURE_README ?=

.PHONY: all setup setup-test setup-bench test test-unit test-asan fuzz torture demo bench clean format

all: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

setup-bench:
	@bash scripts/setup.sh --bench

# Every test: the normal build (unit + integration), then the unit tests
# again under AddressSanitizer and UndefinedBehaviorSanitizer.
test: setup-test all test-asan
	cd $(BUILD) && ctest --output-on-failure -j 2

test-unit: all
	cd $(BUILD) && ctest --output-on-failure -L unit -j 2

test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTZ_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  TZ_SANITIZED=1 ctest --output-on-failure -L unit -j 2

# Every fuzz target (tests/fuzz) for FUZZ_SECONDS each under ASan+UBSan,
# built with clang into $(FUZZ_BUILD); fails on any crash, leak or hang.
fuzz: setup-test
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTZ_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	FUZZ_README=$(FUZZ_README) bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Crash torture (tests/torture): TORTURE_KILLS SIGKILLs of each program that
# writes the wallet, checked after each, then the disk and network fault
# matrices; a JSON summary on stdout and in out/torture/summary.json.
# TORTURE_README=README.md rewrites the README's reliability rows.
torture: setup-test all
	python3 tests/torture/torture.py --kills $(TORTURE_KILLS) --faults $(if $(TORTURE_README),--readme $(TORTURE_README))

demo: all
	bash scripts/demo.sh

bench: setup-bench all
	bash scripts/bench.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
