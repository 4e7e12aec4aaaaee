# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -c constraints.txt

.PHONY: demo test venv install install-dev bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) -q -e ".[boost,onnx,parquet]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/whybox demo --out whybox-demo

test: install-dev
	$(PY) -m pytest

# The peers measured against. dice-ml and quantus are installed without their dependencies: dice-ml
# asks for the plain xgboost wheel (~500 MB of CUDA libraries beside the xgboost-cpu build whybox
# uses), quantus for opencv-python, which would clash with the opencv-python-headless build here.
$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(PIP) -q -e ".[dev,bench]"
	$(PIP) -q --no-deps "dice-ml>=0.11" "quantus>=0.5"
	touch $@

bench: $(VENV)/.installed-bench
	for b in kernel_shap tree_shap effects lime_anchors counterfactuals gradients evaluate text; do $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) whybox-demo build *.egg-info src/*.egg-info
