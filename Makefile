# FITRep: two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch is pinned in the same pip command: the local CPU wheel, not a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: venv demo test test-unit test-integration test-crash test-vllm test-report lint protos bench-quality bench-speed deploy-check check-wheel clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH) -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/fitrep dedup examples/data/catalogue.jsonl --out runs/demo

test: venv
	$(PY) -m pytest tests/unit tests/integration -q

# The package as users install it: wheel + sdist built, the wheel installed (not -e) into a fresh
# venv outside the checkout; imports, dedup of the demo, --help of both servers, one served assign.
check-wheel:
	PYTHON=$(PYTHON) TORCH=$(TORCH) bash scripts/check_wheel.sh

test-unit: venv
	$(PY) -m pytest tests/unit -q

test-integration: venv
	$(PY) -m pytest tests/integration -q

# SIGKILL the index server at random points (>= 20 kills), restart, check what was acknowledged;
# SIGKILL `fitrep dedup` mid-run, check OUT kept the old run and --resume gives the same clusters.
test-crash: venv
	$(PY) -m pytest tests/crash -q -s

test-vllm:
	bash scripts/test_vllm.sh

# report.html in headless Chromium (apt-get install -y chromium): load < 2 s, screenshots in runs/.
test-report: venv
	$(PY) scripts/test_report.py $(REPORT_ARGS)

# Offline: Kubernetes schemas, compose file, Dockerfiles (deploy/check.py); tools in their own venv.
DEPLOY_VENV ?= .venv-deploy
$(DEPLOY_VENV)/.installed: deploy/check-requirements.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install -q -r deploy/check-requirements.txt
	touch $@

deploy-check: $(DEPLOY_VENV)/.installed
	$(DEPLOY_VENV)/bin/python deploy/check.py

lint: venv
	$(VENV)/bin/ruff check client mllm_server index_server serving tests benchmarks scripts deploy
	$(VENV)/bin/ruff format --check client mllm_server index_server serving tests scripts deploy
	$(VENV)/bin/mypy client/fitrep mllm_server index_server serving deploy

protos: venv
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=client --pyi_out=client --grpc_python_out=client protos/fitrep/v1/*.proto

# buf (npm package @bufbuild/buf, pinned, in .buf-node/): lint per protos/buf.yaml, and no breaking
# change against protos/buf-image.binpb, the contract as released. Only a deliberate, released
# change refreshes it: $(BUF) build protos --exclude-source-info -o protos/buf-image.binpb
.PHONY: proto-check test-interop
BUF_VERSION ?= 1.75.0
BUF_NODE ?= .buf-node
BUF := $(BUF_NODE)/node_modules/.bin/buf
$(BUF_NODE)/.installed-$(BUF_VERSION):
	npm install --prefix $(BUF_NODE) --save-exact --no-audit --no-fund --loglevel=error @bufbuild/buf@$(BUF_VERSION)
	touch $@

proto-check: $(BUF_NODE)/.installed-$(BUF_VERSION)
	$(BUF) lint protos
	$(BUF) breaking protos --against protos/buf-image.binpb

# Go and Java callers (examples/) generated from protos/ into build/interop, against the real
# servers next to the Python SDK; toolchains from Debian packages (installed if missing, as root).
test-interop: venv
	PY=$(PY) bash scripts/test_interop.sh

bench-quality: venv
	$(PY) benchmarks/quality.py

bench-speed: venv
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) runs .pytest_cache
