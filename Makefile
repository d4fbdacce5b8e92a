# README's quick start (setup, demo, test, lab) and the developer loop.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lab export readme bench clean-nbs
# extra JupyterLab options for `make lab`, e.g. make lab LAB_ARGS="--no-browser --port 9999"
LAB_ARGS ?=

setup:            ## create $(VENV) and install sagan_seg (CPU torch where torch is missing)
	@bash tools/setup.sh

demo: setup       ## the main job: synthetic data -> train -> evaluate -> report/ (about 10 min on 2 CPU cores)
	$(BIN)/sagan-seg demo --out report

test: setup       ## every test: guards, notebook tests, pytest; ends with "N passed, N failed"
	$(BIN)/python tools/run_tests.py

lab: setup        ## open the notebooks (nbs/) in JupyterLab; it prints the URL to open; Ctrl-C stops it
	@echo "lab: starting JupyterLab on nbs/ - open the http://127.0.0.1:<port>/lab?token=... URL printed below; Ctrl-C stops it"
	$(BIN)/jupyter lab --notebook-dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

export:           ## notebooks -> library, clean notebooks, README from nbs/index.ipynb
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/python tools/make_readme.py

bench: setup      ## all benchmarks -> benchmarks/results/
	$(BIN)/python benchmarks/run_all.py
