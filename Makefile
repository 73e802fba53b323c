# gpstoken: `make demo` runs the main job on the embedded photos, `make test` runs every test.
# Both install what is missing first (scripts/setup.sh).

NODE ?= node
CLI := $(NODE) bin/gpstoken.js
UVU := $(NODE) --import tsx node_modules/uvu/bin.js
PYTHON ?= $(shell scripts/find-python.sh)

.PHONY: setup demo test test-ts test-py typecheck bench train-demo clean

setup:
	@scripts/setup.sh

demo: setup
	$(CLI) demo

test: setup
	@scripts/run-tests.sh

typecheck: setup
	$(NODE) node_modules/typescript/bin/tsc --noEmit -p tsconfig.json

test-ts: setup
	$(UVU) tests/ts '\.test\.ts$$'

test-py: setup
	cd tests/py && $(PYTHON) -m pytest -q -p no:cacheprovider .

bench: setup
	@scripts/run-bench.sh

train-demo: setup
	scripts/train-demo.sh $(STEPS)

clean:
	rm -rf results/tmp .cache
