# The README's two commands, and the steps they are made of.
#   make run   install what is missing, build, start discoveryd on 127.0.0.1:8080
#   make test  install what is missing, build, run every test suite (CI runs this)
.PHONY: all deps build run test test-dev test-asan test-tsan test-python test-wheel test-fuzz bench clean help

JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data

all: build

help:
	@echo "make run        build and start discoveryd on $(LISTEN), data in $(DATA_DIR)"
	@echo "make test       build and run every test (dev build, then asan+fuzz (clang) and tsan builds)"
	@echo "make test-dev   only the dev build's tests (fast loop while working)"
	@echo "make test-python  the Python package: binding, client, fixture, conformance, examples"
	@echo "make test-wheel   build the Python wheel and test it installed in a fresh venv (minutes)"
	@echo "make test-fuzz    the libFuzzer targets alone (fuzz preset), 15 s each; fuzz/run.sh SECONDS for longer"
	@echo "make bench      build the release preset and run the benchmarks"
	@echo "make clean      remove build/"

deps:
	@cmake/install-deps.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

# On first start discoveryd creates the key and prints a diamond token; on
# later starts the token is minted here from the same key.
run: build
	@mkdir -p $(DATA_DIR)
	@if [ -f $(DATA_DIR)/jwt-secret ]; then \
	  echo "admin token (diamond, valid 24h):"; \
	  ./build/dev/apps/discoveryctl/discoveryctl token --sao diamond --subject admin --ttl 24h --data-dir $(DATA_DIR); \
	fi
	exec ./build/dev/apps/discoveryd/discoveryd --listen $(LISTEN) --data-dir $(DATA_DIR)

test: test-dev test-python test-asan test-tsan

# Every suite of the dev build but the Python ones (test-python runs those,
# after configuring the binding in).
test-dev: build
	ctest --preset dev -j $(JOBS) -LE python

# The Python binding needs pybind11 at configure time: the tests' virtual
# environment (build/venv, tests/requirements.txt) provides it.
test-python: deps
	@tests/python-env.sh python -c pass
	@cmake --preset dev -DDISCOVERY_BUILD_PYTHON=ON >/dev/null
	@cmake --build --preset dev -j $(JOBS) --target _discovery discoveryd
	ctest --preset dev -L '^python$$'

# The wheel as users get it (pip / python -m build, then a fresh venv). It
# compiles the library again in Release, several minutes, so it is not part
# of `make test`.
test-wheel: test-python
	ctest --preset dev -L python-packaging

# libFuzzer targets alone (the fuzz preset: clang, ASan + UBSan, RelWithDebInfo)
# over their seed corpora, 15 s each; fuzz/run.sh SECONDS runs them longer.
# `make test` already runs them for 10 s each in the asan build.
test-fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	ctest --preset fuzz -j $(JOBS)

# One clang build serves the sanitizers and the fuzzers: everything is compiled
# with ASan + UBSan (and libFuzzer's coverage hooks), the unit and integration
# suites run on it, then each libFuzzer target for 10 s from its seed corpus.
test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS) -L 'unit|integration|fuzz'

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target test_registry test_query_engine test_storage test_auth
	ctest --preset tsan -j $(JOBS)

bench: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)
	benchmarks/run.sh build/release
	benchmarks/http/run.sh build/release

clean:
	rm -rf build
