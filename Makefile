# jupyterlab-uga — developer entry points.
#   make demo   set up everything that is missing, then launch JupyterLab on a demo workspace
#   make test   install what tests need (Debian chromium included) and run every test
SHELL := /bin/bash
PORT ?= 8888
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JUPYTER := $(VENV)/bin/jupyter
UGA_DATA ?= $(abspath ../shared/data)
DEMO_DIR ?= .demo-workspace
export UGA_DATA

PY_DEPS := 'jupyterlab>=4.6,<4.7' 'hatchling>=1.5' 'hatch-jupyter-builder>=0.9' 'hatch-nodejs-version>=0.3.2' editables \
	'torch==2.13.0' 'onnx==1.23.2' numpy pillow pytest ruff nbclient nbformat ipykernel matplotlib tifffile imagecodecs

.PHONY: setup venv node build demo test lint test-js test-py test-wheel test-ui chromium bench-open bench-engine bench-replicate bench-finetune clean

setup: build

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PY_DEPS)
	touch $@

node: node_modules/.stamp
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Develop-install: the labextension folder is linked into the venv's JupyterLab.
build: venv node
	PATH=$(abspath $(VENV))/bin:$$PATH npm run build
	test -f $(VENV)/.develop || { PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pip install -q -e . --no-build-isolation --no-deps && \
		PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/jupyter-builder develop --overwrite . && touch $(VENV)/.develop; }

demo: build
	bash scripts/make-demo-workspace.sh $(DEMO_DIR)
	@echo "Open http://127.0.0.1:$(PORT)/lab/tree/tutorial.ipynb (token printed below): the tutorial, the sample slide and the EBHI-Seg mosaic with its ground truth"
	cd $(DEMO_DIR) && ../$(JUPYTER) lab --no-browser --ip=127.0.0.1 --port=$(PORT) --ServerApp.allow_root=True --ServerApp.default_url=/lab/tree/tutorial.ipynb

# Debian's chromium for Galata, and its SwiftShader Vulkan (with libvulkan1) for WebGPU tests.
chromium:
	@{ command -v chromium && dpkg -s libvulkan1; } >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium libvulkan1; }

test: chromium build lint test-js test-py test-wheel test-ui

# eslint (typescript-eslint) + prettier for TypeScript, ruff for Python.
lint: node venv
	npx eslint src ui-tests/tests ui-tests/bench bench
	npx prettier --check 'src/**/*.ts' 'ui-tests/tests/**/*.ts' 'ui-tests/bench/**/*.ts' 'bench/**/*.ts' 'style/**/*.css'
	$(VENV)/bin/ruff check jupyterlab_uga tests bench scripts ui-tests

test-js: node chromium
	VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx jest --ci

test-py: venv
	PYTHONPATH=$(abspath .) $(PY) -m pytest -q tests

# The wheel a user installs must carry the prebuilt extension and its static files.
test-wheel: build
	rm -rf dist && PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pip wheel -q . --no-deps --no-build-isolation -w dist
	$(PY) scripts/check_wheel.py dist/jupyterlab_uga-*.whl

test-ui: build chromium
	cd ui-tests && PATH=$(abspath $(VENV))/bin:$$PATH npx playwright test

bench-open: build
	PATH=$(abspath $(VENV))/bin:$$PATH bash bench/bench-open.sh

bench-engine: build
	PATH=$(abspath $(VENV))/bin:$$PATH bash bench/bench-engine.sh

.PHONY: bench-engine-browser
bench-engine-browser: build
	PATH=$(abspath $(VENV))/bin:$$PATH bash bench/bench-engine-browser.sh $(ARGS)

# Main-thread long tasks in the real panel (JupyterLab on port 8888, headless Chromium).
.PHONY: bench-panel
bench-panel: build chromium
	bash bench/bench-panel.sh

bench-replicate: build
	PATH=$(abspath $(VENV))/bin:$$PATH bash bench/bench-replicate.sh $(ARGS)

bench-finetune: build
	PATH=$(abspath $(VENV))/bin:$$PATH bash bench/bench-finetune.sh $(ARGS)

clean:
	rm -rf lib jupyterlab_uga/labextension tsconfig.tsbuildinfo $(DEMO_DIR)
