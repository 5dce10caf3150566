# The two commands of README.md: `make demo` and `make test`. Everything they need is installed
# here, from PyPI and Maven Central only.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SBT := bin/sbt
JAR_STAMP := python/vsa/jars/.built
KAFKA_STAMP := .vsa/kafka/.built
JVM_SOURCES := $(shell find scala -type f) build.sbt project/build.properties project/plugins.sbt \
	python/requirements.txt pyproject.toml

.PHONY: demo test test-scala test-python install jars kafka-lib chromium player lint format wheel clean

demo: install kafka-lib
	$(PY) -m vsa demo

test: install kafka-lib lint test-scala test-python

test-scala:
	$(SBT) vsaSpark/test

# Python tests on PYTEST_WORKERS processes (pytest-xdist), each with its own Spark and Kafka, each
# module on one worker, in tests/conftest.py's order (docs/testing.md). The 25 slowest steps are
# listed at the end: where the suite's time goes (issue 23).
PYTEST_WORKERS ?= 3

test-python: install kafka-lib chromium player
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

install: $(VENV)/.installed

$(VENV)/.installed: $(JAR_STAMP) pyproject.toml setup.py python/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test,collect]'
	touch $@

jars: $(JAR_STAMP)

$(JAR_STAMP): $(JVM_SOURCES)
	$(SBT) bundleJars
	touch $@

kafka-lib: $(KAFKA_STAMP)

$(KAFKA_STAMP): build.sbt
	$(SBT) kafkaBrokerLib
	touch $@

wheel: jars
	$(PY) -m pip wheel --no-deps -w dist .

# Debian's Chromium, for the test that renders `vsa report`'s HTML in a real browser.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
		chromium fonts-dejavu-core

# The real player of tests/test_real_player.py: Debian's ffmpeg makes the DASH stream, Debian's
# nginx serves it and writes the access log, Chromium (above) plays it with dash.js from npm,
# pinned by tests/player/package-lock.json.
FFMPEG := /usr/bin/ffmpeg
NGINX := /usr/sbin/nginx
PLAYER_STAMP := tests/player/node_modules/.installed

player: chromium $(FFMPEG) $(NGINX) $(PLAYER_STAMP)

$(FFMPEG) $(NGINX):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
		ffmpeg nginx

$(PLAYER_STAMP): tests/player/package.json tests/player/package-lock.json
	test -x "$$(command -v npm)" || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends npm; }
	cd tests/player && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(VENV)/bin/ruff check python tests bench tools
	$(VENV)/bin/ruff format --check python tests bench tools
	$(SBT) scalafmtCheckAll scalafmtSbtCheck

format: install
	$(VENV)/bin/ruff check --fix python tests bench tools
	$(VENV)/bin/ruff format python tests bench tools
	$(SBT) scalafmtAll scalafmtSbt

clean:
	rm -rf $(VENV) python/vsa/jars .vsa scala/target target project/target dist build \
		tests/player/node_modules
