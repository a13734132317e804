# Two commands on a fresh machine: `make demo` and `make test`.
# Both build a local virtual environment (.venv) first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT := out/demo.stylized.mp4

.PHONY: demo test lint format bench bench-speed bench-live bench-memory gpu-smoke install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the plain name would pull a multi-GB download.
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[test,lint,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/vidstyle samples/bbb_tail_480x270.mp4 --style samples/starry_night.jpg \
		-o $(DEMO_OUT) -y
	$(BIN)/vidstyle eval samples/bbb_tail_480x270.mp4 $(DEMO_OUT) --plot out/demo.flicker.png
	@echo "demo output: $(DEMO_OUT)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

# ruff (lint + format check) and mypy, configured in pyproject.toml; CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check vidstyle tests benchmarks
	$(BIN)/ruff format --check vidstyle tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix vidstyle tests benchmarks
	$(BIN)/ruff format vidstyle tests benchmarks

# Benchmarks print markdown tables (README); each is one command.
bench: $(STAMP)
	$(BIN)/python benchmarks/temporal.py

bench-speed: $(STAMP)
	$(BIN)/python benchmarks/speed.py

bench-live: $(STAMP)
	$(BIN)/python benchmarks/live.py

bench-memory: $(STAMP)
	$(BIN)/python benchmarks/memory.py

gpu-smoke: $(STAMP)
	$(BIN)/python benchmarks/gpu_smoke.py

clean:
	rm -rf out .pytest_cache
