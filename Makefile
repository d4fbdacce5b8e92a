# The two commands of README's quick start, and the developer loop.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test export readme bench clean-nbs

setup:            ## create $(VENV) and install sagan_seg (CPU torch where torch is missing)
	@bash tools/setup.sh

demo: setup       ## the main job: synthetic data -> train -> evaluate -> report/ (about 10 min on 2 CPU cores)
	$(BIN)/sagan-seg demo --out report

test: setup       ## every test: guards, notebook tests, pytest; ends with "N passed, N failed"
	$(BIN)/python tools/run_tests.py

export:           ## notebooks -> library, clean notebooks, README from nbs/index.ipynb
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/python tools/make_readme.py

bench: setup      ## all benchmarks -> benchmarks/results/
	$(BIN)/python benchmarks/run_all.py
