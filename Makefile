# spectssp: the README's two commands are `make demo` and `make test`.
# Both create or refresh .venv/ (editable install) and, as root, install the system tools
# the tests use. A second run with nothing changed takes seconds (stamp files).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install
APT_PACKAGES := dcmtk dicom3tools orthanc orthanc-python chromium chromium-driver
APT_STAMP := $(VENV)/.stamp-apt

.PHONY: setup system-tools test test-fast demo bench bench-daemon bench-intake bench-batch bench-reject clean help

help:
	@echo "make demo   - set up, then process NC/AD/DLB phantom studies with the bundled defaults"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make bench  - per-stage timings of the pipeline (Markdown table)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# As root, install the Debian tools the tests use (dcmtk, dciodvfy, Orthanc, Chromium for the status page); otherwise say what is missing.
$(APT_STAMP): | $(STAMP)
	@missing=""; \
	for t in storescu:dcmtk dciodvfy:dicom3tools Orthanc:orthanc chromium:chromium chromedriver:chromium-driver; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; \
	done; \
	test -e /usr/share/orthanc/plugins/libOrthancPython.so || missing="$$missing orthanc-python"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system tools:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null || exit 1; \
	  else \
	    echo "warning: system tools missing:$$missing (run 'make' as root, or apt-get install them); their tests will be skipped"; \
	    exit 0; \
	  fi; \
	fi; \
	touch $@

setup: $(STAMP) $(APT_STAMP)

# lint-imports checks the architecture contracts in pyproject.toml (docs/architecture.md).
test: setup
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not integration"

demo: setup
	$(VENV)/bin/spectssp demo --out demo-out

bench: setup
	$(PY) -m processor.bench --studies 5 --out bench-out

bench-daemon: setup
	$(PY) -m processor.bench_daemon --studies 50 --out bench-out

clean:
	rm -rf $(VENV) demo-out bench-out .pytest_cache

bench-intake: setup
	$(PY) -m processor.bench_intake --series 200 --out bench-out

# `spectssp batch` on a LocalCluster: 1x1, 1x2 and 2x1 (workers x threads) on the same studies,
# and the Dask overhead per task (docs/batch.md). BENCH_BATCH_STUDIES=6 for a quick check.
BENCH_BATCH_STUDIES ?= 20
bench-batch: setup
	$(PY) -m processor.bench_batch --studies $(BENCH_BATCH_STUDIES) --out bench-out

# A fresh `spectssp process` rejecting a Mediso-like Tc-99m series (tracer_not_covered) against the
# bundled 123I-IMP database: median of 5 cold starts, beside a bare `import pydicom` (docs/tracers.md).
bench-reject: setup
	$(PY) -m processor.bench_reject --runs 5 --out bench-out
