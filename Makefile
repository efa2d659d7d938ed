# The two set-up commands of the README. Both work from a fresh clone with only the package
# registries reachable: they create .venv, install what is needed, then run.
VENV ?= .venv
PYTHON ?= python3
DEMO_PHOTO ?= examples/us_kennedy_space_center.jpg

.PHONY: demo test unit system-deps lint bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Two stamps, two installs: `make demo` installs the lean default set and the embedded LLM
# (docs/install.md); `make test` and the other developer targets install every extra, so every code
# path stays tested. `make test` after `make demo` thus adds the extras to the same venv.
# TORCH_INDEX: an extra index for torch's CPU wheel where pip would otherwise pick the CUDA build,
# e.g. `make test TORCH_INDEX=https://download.pytorch.org/whl/cpu` (docs/torch.md).
EXTRAS_demo := llm
EXTRAS_full := dev,llm
TORCH_INDEX ?=

$(VENV)/.installed-%: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[$(EXTRAS_$*)]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

demo: system-deps $(VENV)/.installed-demo
	$(VENV)/bin/geosleuth locate $(DEMO_PHOTO)

LINT_TREE := build/lint

# ruff on the sources; import-linter (the layers) and mypy --strict on a built copy of the package,
# since the editable install maps folders with an import hook that static tools cannot follow.
lint: $(VENV)/.installed-full
	$(VENV)/bin/ruff check agent tools evals tests
	rm -rf $(LINT_TREE)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation --no-compile --target $(LINT_TREE) .
	cd $(LINT_TREE) && $(CURDIR)/$(VENV)/bin/lint-imports --no-cache $(CURDIR)/pyproject.toml
	cd $(LINT_TREE) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml --cache-dir $(CURDIR)/.mypy_cache -p geosleuth

# tests/unit (no models, no data, no servers; the inner loop) then tests/integration (real models,
# data, loopback servers and subprocesses); `make unit` runs the first alone.
test: system-deps $(VENV)/.installed-full lint
	$(VENV)/bin/pytest tests/unit tests/integration

unit: $(VENV)/.installed-full
	$(VENV)/bin/pytest tests/unit

bench: $(VENV)/.installed-full
	$(VENV)/bin/geosleuth bench
