# Two entry points for people: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= demo-out
DEMO_LINGER ?= 60
INTEROP := tests/interop
PLAYER := server/web/player
export NODE_20_19 := const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)
# Debian packages: the venv module, compilers/headers for pyaudio and python-prctl,
# and the programs the tests drive for real (age, ffprobe, mtools, sfdisk, systemd-analyze);
# libtss2-dev + pkg-config build tpm2-pytss; the tests run a real software TPM (swtpm);
# tpm2-tools are the commands the TPM key store's error messages tell a technician to run.
# iproute2: the offload's network tests build real links (tools/dev/netns.py).
# curl: `bodycam-server bench` compares the camera's offload with it.
# sqlite3: the administrator's backup command, as the README writes it (tests/server).
# nodejs (>= 20.19, with npm): typage, the second age implementation (tests/interop).
APT_BASE := python3-venv python3-dev
APT_TEST := $(APT_BASE) build-essential portaudio19-dev libcap-dev age ffmpeg mtools dosfstools fdisk systemd \
	libtss2-dev pkg-config swtpm swtpm-tools tpm2-tools \
	iproute2 curl sqlite3 nodejs chromium

.PHONY: demo test lint typecheck unit deps deps-dev clean player

demo: $(VENV)/.base $(PLAYER)/dist/player.js
	$(PY) -m bodycam.tools.dev.demo --out $(DEMO_OUT) --linger $(DEMO_LINGER)

# lint first (seconds); then mypy and the tests at once (see `unit` below).
test: $(VENV)/.dev lint mypy-tree
	@$(call run_tests_$(TESTS_LAYOUT),$(MYPY))

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check hal firmware tools server tests config

# mypy sees the sources as the installed package bodycam through a tree of links; its
# cache (.mypy-tree/.mypy_cache) is kept between runs, so a second run checks only what
# changed.
MYPY := cd .mypy-tree && ../$(VENV)/bin/mypy -p bodycam.hal -p bodycam.firmware -p bodycam.tools -p bodycam.server
typecheck: $(VENV)/.dev mypy-tree
	$(MYPY)

.PHONY: mypy-tree
mypy-tree:
	@mkdir -p .mypy-tree/bodycam
	@for d in hal firmware tools server; do ln -sfn ../../$$d .mypy-tree/bodycam/$$d; done

# The tests in two runs (see TESTS_LAYOUT below: one after the other, or at once as
# described here). The tests marked `realtime` (tests/conftest.py: the
# simulated device on a SimClock, simulated time tied to real time, and the `slow`
# end-to-end ones that run it) run one at a time in one process at normal priority, their
# output live. All the others run beside them in pytest-xdist worker processes, one per
# core (PYTEST_WORKERS=N for N, 0 for none), at a lower CPU priority (nice $(BESIDE_NICE)), and so
# does mypy in `make test`: the realtime tests mostly wait on simulated time, the others
# take the cores they leave, and the kernel hands the CPU to a realtime test's thread
# the moment it wakes (a second worker at the SAME priority beside them held a thread
# past a simulated timeout: 4 failures in session 6). Most of the others' time is spent in
# processes they start (servers, PostgreSQL, age, ffmpeg, Chromium), which inherit the
# lower priority and, run as root, lose the right to raise it (setpriv drops CAP_SYS_NICE:
# Chromium gives its browser and GPU processes nice -8 where it may); each worker has its own PostgreSQL cluster, S3 emulator and temporary
# directories (tests/server/server_fixtures.py). worksteal: a worker out of tests takes
# the other's. When the realtime run ends, mypy's output is printed, then the others'
# output so far and the rest as it comes. Every run always runs to its end; one that
# PYTEST_ARGS leaves without tests (pytest's exit 5) is not a failure, all of them are.
# Each run lists its 40 slowest test phases (setup, call, teardown): where the time goes.
PYTEST_WORKERS ?= logical
BESIDE_NICE ?= 10
PYTEST_REALTIME := $(VENV)/bin/pytest -q -m realtime --durations=40 $(PYTEST_ARGS)
PYTEST_OTHERS := $(VENV)/bin/pytest -q -m "not realtime" --durations=40 -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# TESTS_LAYOUT=serial (the default, and CI's): BESIDE (mypy), then the realtime run
# alone, then the others; about 27 min on 2 cores. TESTS_LAYOUT=beside: all at once as
# described above; about 16-18 min, but on a 2-core machine a realtime power-loss test
# (a kill 0.5 s after a press) lost its first chunk once even so, so CI does not use it.
TESTS_LAYOUT ?= serial

# $(call run_tests_serial,BESIDE): BESIDE (if any), then the two runs one after the
# other, each always to its end; the exit status is the first failure's.
define run_tests_serial
	status=0; ran=0; \
	if [ -n '$(1)' ]; then echo '$(1)'; bash -c '$(1)' || status=$$?; fi; \
	echo '$(PYTEST_REALTIME)'; $(PYTEST_REALTIME); s=$$?; \
	[ $$s -eq 5 ] || { ran=1; [ $$s -eq 0 ] || [ $$status -ne 0 ] || status=$$s; }; \
	echo '$(PYTEST_OTHERS)'; $(PYTEST_OTHERS); s=$$?; \
	[ $$s -eq 5 ] || { ran=1; [ $$s -eq 0 ] || [ $$status -ne 0 ] || status=$$s; }; \
	[ $$ran -eq 1 ] || [ $$status -ne 0 ] || status=5; exit $$status
endef

# $(call run_tests_beside,BESIDE): both test runs as above, plus the shell command BESIDE
# (if any) at the lower priority, its output shown after the realtime run; the exit
# status is the first failure's.
define run_tests_beside
	logs=$$(mktemp -d); beside=; others=; \
	trap 'kill $$beside $$others 2>/dev/null; rm -rf "$$logs"' EXIT; \
	lower="nice -n $(BESIDE_NICE)"; \
	[ "$$(id -u)" -ne 0 ] || lower="setpriv --bounding-set=-sys_nice $$lower"; \
	if [ -n '$(1)' ]; then ( $$lower bash -c '$(1)' ) > $$logs/beside 2>&1 & beside=$$!; fi; \
	$$lower $(PYTEST_OTHERS) > $$logs/others 2>&1 & others=$$!; \
	status=0; ran=0; \
	echo '$(PYTEST_REALTIME)'; $(PYTEST_REALTIME); s=$$?; \
	[ $$s -eq 5 ] || { ran=1; [ $$s -eq 0 ] || status=$$s; }; \
	if [ -n "$$beside" ]; then wait $$beside; s=$$?; beside=; echo '$(1)  (beside the above)'; \
		cat $$logs/beside; [ $$s -eq 0 ] || [ $$status -ne 0 ] || status=$$s; fi; \
	echo '$(PYTEST_OTHERS)  (beside the above)'; \
	tail -n +1 -f --pid=$$others $$logs/others; wait $$others; s=$$?; others=; \
	[ $$s -eq 5 ] || { ran=1; [ $$s -eq 0 ] || [ $$status -ne 0 ] || status=$$s; }; \
	[ $$ran -eq 1 ] || [ $$status -ne 0 ] || status=5; exit $$status
endef

unit: $(VENV)/.dev
	@$(call run_tests_$(TESTS_LAYOUT),)

$(VENV)/.base: pyproject.toml
	@bash .ci/apt-deps.sh $(APT_BASE)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server]'
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.base $(INTEROP)/node_modules/.package-lock.json $(PLAYER)/dist/player.js
	@bash .ci/apt-deps.sh $(APT_TEST)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# $(call npm_ci,DIR,WHAT): the npm packages of DIR exactly as pinned by its
# package-lock.json; npm ci writes node_modules/.package-lock.json last, so an
# interrupted install is redone.
define npm_ci
	@bash .ci/apt-deps.sh nodejs
	@command -v npm >/dev/null && node -e "$$NODE_20_19" || { \
		echo "$(2) needs Node.js >= 20.19 with npm (found: $$(node --version 2>&1))." \
		"Install them, e.g. on Debian 13: sudo apt-get install nodejs npm; then run make again" >&2; \
		exit 1; }
	cd $(1) && npm ci --no-audit --no-fund --loglevel=error
endef

# typage (npm age-encryption), the second age implementation of tests/interop.
$(INTEROP)/node_modules/.package-lock.json: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	$(call npm_ci,$(INTEROP),typage)

# The in-browser player (server/viewing): typage and esbuild exactly as pinned by its
# package-lock.json, bundled into $(PLAYER)/dist, which the server serves at /player/.
# Offline once npm ci has run; rebuilt when a source or the lock changes.
player: $(PLAYER)/dist/player.js

$(PLAYER)/node_modules/.package-lock.json: $(PLAYER)/package.json $(PLAYER)/package-lock.json
	$(call npm_ci,$(PLAYER),the player)

$(PLAYER)/dist/player.js: $(PLAYER)/node_modules/.package-lock.json $(wildcard $(PLAYER)/src/*.js)
	cd $(PLAYER) && npm run --silent build

clean:
	rm -rf $(VENV) $(PLAYER)/node_modules $(PLAYER)/dist .mypy-tree .mypy_cache .ruff_cache .pytest_cache $(DEMO_OUT) build *.egg-info
