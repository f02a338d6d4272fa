# The commands the README gives. Everything a fresh machine (Python 3.11, gcc, make) needs is here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Single-threaded BLAS: the simulation is event-driven and small solves only lose from threads.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: install run test test-core lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py core_ext/_sched.pyx core_ext/_pf.pyx core_ext/_pf3.pyx
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	SIM_REQUIRE_EXT=1 $(BIN)/python -c "import core_ext; print('core_ext backend:', core_ext.BACKEND)"
	touch $(STAMP)

run: install
	$(BIN)/feedertwin run

test: install
	SIM_REQUIRE_EXT=1 $(BIN)/python -m pytest -q -p no:cacheprovider
	SIM_NO_EXT=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m core
	$(BIN)/ruff check sim core_ext tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

lint: install
	$(BIN)/ruff check sim core_ext tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The benchmark environment adds acnportal (the reference for the classic algorithms); it is not a
# runtime dependency.
bench: install
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build core_ext/_sched.c core_ext/_pf.c core_ext/_pf3.c core_ext/*.so *.egg-info out
