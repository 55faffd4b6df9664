# Two entry points for a fresh Debian machine, as root:
#   make run   — set up, create the demo workspace, open the TUI
#   make test  — set up (plus test-only tools), run the test suite
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
ROOT     ?= /var/lib/dockyard
PYTEST_ARGS ?= -n 2
APT_RUN  := crun runc busybox-static zstd python3-venv iptables git
APT_TEST := skopeo umoci docker-registry tmux apache2-utils openssh-client
APT_BENCH := podman
APT_SHOTS := librsvg2-bin fonts-dejavu-core

.PHONY: run test setup apt-run apt-test apt-bench venv lint bench clean

run: apt-run venv
	$(BIN)/python -m engine.demo --root $(ROOT)
	$(BIN)/dockyard --root $(ROOT)

test: apt-run apt-test venv lint
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check engine tui tests bench
	$(BIN)/mypy engine

bench: apt-run apt-test apt-bench venv
	for b in bench/[a-z]*.py; do $(BIN)/python $$b || exit 1; done

# apt-get only what is missing, so a set-up machine does not touch the network
apt-run:
	@bash scripts/apt-ensure.sh $(APT_RUN)

apt-test:
	@bash scripts/apt-ensure.sh $(APT_TEST)

apt-bench:  # the peers the benchmarks compare with
	@bash scripts/apt-ensure.sh $(APT_BENCH)

# screenshots/: an SVG and a PNG (rsvg-convert) of each pane, from the real app
.PHONY: screenshots apt-shots
screenshots: apt-run apt-shots venv
	$(BIN)/python scripts/screenshots.py

apt-shots:
	@bash scripts/apt-ensure.sh $(APT_SHOTS)

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q engine tui >/dev/null
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
