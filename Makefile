# monviz developer tasks; `make help` lists them. Plain `make` = `make setup`.
#
#   .venv       main venv, Python 3.13 when there is one (tools/find-python any)
#   .venv-3.12  secondary venv for the 3.12 test run (skipped with a note if no 3.12;
#               required when CI=true)
#   .chroot/    Debian sid chroot with Python 3.14 and 3.15 for their unit-test runs
#               (tools/sid-python; needs root; skipped with a note when unavailable;
#               required when CI=true)
#   monviz/_speedups.abi3.so  the compiled recorder, built in place by the editable install
#               (stable ABI: the one binary is what 3.12, 3.13, 3.14 and 3.15 all import)
#
# Each recipe is one bash script (.ONESHELL) run with -euo pipefail, so a failing
# pipe such as `pip ... | sed` still fails the target.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory
.DEFAULT_GOAL := setup

VENV     := .venv
VENV312  := .venv-3.12
STAMP    := $(VENV)/.stamp
STAMP312 := $(VENV312)/.stamp

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export DEBIAN_FRONTEND := noninteractive

# The machine's pip config adds file:// indexes that make pip print ~100 harmless
# "WARNING: Location '...' is ignored: it is neither a file nor a directory." lines.
# sed (unlike grep -v) exits 0 when nothing is left; pipefail keeps pip's own exit code.
PIP_FILTER := sed -u "/^WARNING: Location '.*' is ignored: it is neither a file nor a directory/d"

SIDPY      := tools/sid-python
NEWER      := 3.14 3.15
NEWER_TXT  := $(subst $() ,/,$(NEWER))
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tutorials/nbval_sanitize.cfg
# Other versions run the tutorials too, comparing only cells marked # NBVAL_CHECK_OUTPUT
# (offsets and event details differ between versions; a cell that raises still fails).
NBVAL_LAX  := --nbval-lax --nbval-current-env tutorials/
UNIT_ONLY  := not notebook and not browser

# The recorder tests: run a second time on every interpreter with the pure-Python backend
# (MONVIZ_PURE_PYTHON=1), the first run having used the compiled one. Not tests/test_backends.py:
# each of its tests picks the backend itself (the use_backend fixture), so the first run already
# covers both, and a second one would repeat it exactly (~2 min per interpreter).
PURE_ENV       := MONVIZ_PURE_PYTHON
RECORDER_TESTS := tests/test_recorder_oracle.py tests/test_recorder_scope.py \
                  tests/test_recorder_coexistence.py tests/test_teardown.py tests/test_errors.py \
                  tests/test_trace.py

# Prints `== backend on Python X.Y.Z: compiled (/path/to/_speedups.abi3.so) ==` (or `python
# (why)`) and exits 1 unless the compiled backend is the active one.
BACKEND_PY := import platform, monviz.backends as b; \
  print(f"== backend on Python {platform.python_version()}: {b.describe()} =="); \
  raise SystemExit(b.backend() != b.COMPILED)

# ---------------------------------------------------------------------------------------
# Stamps: a stamp holds the X.Y its venv was built with. It is dropped (forcing a rebuild)
# when the venv's interpreter no longer runs or reports another version, e.g. after a
# pyenv version was removed or someone made .venv by hand. pyproject.toml is newer -> reinstall.
venv-version = $(shell $(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(wildcard $(STAMP)),)
  ifneq ($(call venv-version,$(VENV)),$(file <$(STAMP)))
    $(shell rm -f $(STAMP))
  endif
endif
ifneq ($(wildcard $(STAMP312)),)
  ifneq ($(call venv-version,$(VENV312)),3.12)
    $(shell rm -f $(STAMP312))
  endif
endif

# Prints monviz's dependencies and its dev extra, one a line, from pyproject.toml.
DEPS_PY := import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
  print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))

# $(call make-venv,DIR,PYTHON,X.Y): (re)create DIR unless it already runs X.Y, install
# monviz[dev] editable into it, write the stamp.
#
# `make setup` builds .venv and .venv-3.12 in parallel, and each editable install of monviz
# writes into the work tree: monviz.egg-info/ and the C extension, compiled and copied to
# monviz/_speedups.abi3.so (both venvs build the same file). Two installs at once could
# interleave those writes and leave a corrupt .so or metadata. So the dependencies, which are
# most of the time (downloads), are installed in parallel, from the list in pyproject.toml,
# and the install of monviz itself runs under an exclusive flock on monviz/: one venv at a time
# (~8 s each). The old .so is removed first: a build that fails (optional extension, e.g. no C
# compiler) must not leave a stale binary behind, and a new file (not one rewritten in place)
# is safe for a process that has the old one loaded.
define make-venv
if [ "$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$(3)" ]; then
  echo "creating $(1) with Python $(3): $(2)"
  rm -rf $(1)
  "$(2)" -m venv $(1)
fi
echo "installing monviz[dev] into $(1) (pip -q)"
$(1)/bin/python -c '$(DEPS_PY)' > $(1)/.requirements
$(1)/bin/python -m pip install -q -r $(1)/.requirements 2>&1 | $(PIP_FILTER)
flock monviz bash -c "rm -f monviz/_speedups*.so && $(1)/bin/python -m pip install -q -e '.[dev]'" \
  2>&1 | $(PIP_FILTER)
if ! compgen -G 'monviz/_speedups*.so' >/dev/null; then
  echo "note: the C extension monviz._speedups was not built (no C compiler or Python headers?):" \
    "monviz records with its pure-Python backend"
fi
echo "$(3)" > $(1)/.stamp
endef

# $(call apt-need,CMD=DEBIAN_PKG ...): install the packages whose command is missing
# (as root), or stop with one line saying what to install.
#
# apt-get runs under an flock of our own (two monviz recipes never run apt at once, even under
# make -j) and waits up to 5 minutes for dpkg's lock (DPkg::Lock::Timeout) instead of failing
# when another program (unattended-upgrades, a second terminal) holds it.
APT_LOCK := /tmp/monviz-apt.lock
APT_GET  := flock $(APT_LOCK) apt-get -o DPkg::Lock::Timeout=300
define apt-need
pkgs=(); what=
for dep in $(1); do
  cmd=$${dep%%=*}
  command -v "$$cmd" >/dev/null 2>&1 && continue
  pkgs+=("$${dep#*=}")
  case $$cmd in dot) label="Graphviz's dot" ;; chromium) label=Chromium ;; gcc) label="a C compiler (gcc)" ;; debootstrap) label="debootstrap (for the Python 3.14/3.15 chroot)" ;; *) label=$$cmd ;; esac
  what=$${what:+$$what and }$$label
done
if [ $${#pkgs[@]} -gt 0 ]; then
  if [ "$$(id -u)" != 0 ]; then
    verb=are; [ $${#pkgs[@]} -eq 1 ] && verb=is
    echo "$$what $$verb missing: run 'sudo apt-get install $${pkgs[*]}'" >&2
    exit 1
  fi
  echo "installing $${pkgs[*]} with apt-get"
  $(APT_GET) update -qq
  $(APT_GET) install -y -qq "$${pkgs[@]}" >/dev/null
  for dep in $(1); do command -v "$${dep%%=*}" >/dev/null; done
fi
endef

# $(call check-backend,PYTHON COMMAND,X.Y.Z): print which backend that interpreter records with
# and require the compiled one, appending to the recipe's `failed` array. Not compiled: a failure
# when CI=true, or when monviz/_speedups*.so exists (built, yet this interpreter does not use it);
# otherwise (the extension could not be built: no C compiler) a note, and the tests go on.
define check-backend
if ! $(1) -c '$(BACKEND_PY)'; then
  if [ "$${CI:-}" = true ] || compgen -G 'monviz/_speedups*.so' >/dev/null; then
    failed+=("compiled backend on $(2)")
  else
    echo "note: monviz._speedups was not built (no C compiler or Python headers when monviz was" \
      "installed), so Python $(2) tests the pure-Python backend only; install gcc (and python3-dev" \
      "for Debian's Python), then 'touch setup.py; make test' to build it"
  fi
fi
endef

# $(call run-newer): the unit tests on each of $(NEWER) in the sid chroot, then the recorder tests
# with the pure-Python backend, appending to the recipe's `failed` array. The chroot imports monviz
# from /proj, i.e. the abi3 .so built on the host. Unavailable (not root, no mirror...): a note, or
# a failure when CI=true.
define run-newer
if ! why=$$($(SIDPY) available 2>&1); then
  if [ "$${CI:-}" = true ]; then
    echo "== CI=true requires the Python $(NEWER_TXT) runs: $${why#sid-python: } =="
    failed+=("Python $(NEWER_TXT) (unavailable)")
  else
    echo "note: skipping Python $(NEWER_TXT): $${why#sid-python: }"
  fi
elif ! $(SIDPY) setup; then
  failed+=("sid chroot set-up for Python $(NEWER_TXT)")
else
  for v in $(NEWER); do
    full=$$($(SIDPY) run $$v -- python -c 'import platform; print(platform.python_version())') || full=$$v
    $(call check-backend,$(SIDPY) run $$v -- python,$$full)
    echo "== tests on Python $$full ($(UNIT_ONLY)) =="
    $(SIDPY) run $$v -- python -m pytest tests -m "$(UNIT_ONLY)" -p no:cacheprovider \
      || failed+=("tests on $$full")
    echo "== recorder tests on Python $$full, pure-Python backend ($(PURE_ENV)=1) =="
    SID_PASS_ENV=$(PURE_ENV) $(PURE_ENV)=1 \
      $(SIDPY) run $$v -- python -m pytest $(RECORDER_TESTS) -p no:cacheprovider \
      || failed+=("pure-Python recorder tests on $$full")
    if compgen -G 'tutorials/*.ipynb' >/dev/null; then
      echo "== tutorials (nbval-lax) on Python $$full =="
      SID_PASS_ENV=PYTHONPATH PYTHONPATH=/proj \
        $(SIDPY) run $$v -- python -m pytest $(NBVAL_LAX) -p no:cacheprovider \
        || failed+=("tutorials on $$full")
    fi
  done
fi
endef

# Ctrl-C: pytest catches it and exits 2, which alone would count as one failed step and go on
# to the next run; this trap (run once that step has ended) stops the whole recipe instead.
stop-on-ctrl-c := trap 'echo "== interrupted =="; exit 130' INT

# $(call report-failed): end a recipe that collected `failed` steps.
define report-failed
if [ $${#failed[@]} -gt 0 ]; then
  echo "== FAILED: $$(IFS=,; echo "$${failed[*]}" | sed 's/,/, /g') =="
  exit 1
fi
echo "== all passed =="
endef

# ---------------------------------------------------------------------------------------
.PHONY: viz setup sid-setup system-deps need-dot need-cc test test-newer test-fast lab bench docs lint clean clean-chroot help

# Every system package is installed by one apt step, first (system-deps); only then are the
# three independent parts built in parallel (venvs, sid chroot), none of which runs apt itself.
# Two apt-get at once fail on dpkg's lock ("Could not get lock /var/lib/dpkg/lock-frontend"),
# which is what a fresh machine did when the chroot's debootstrap install raced system-deps.
# Building the rest in parallel halves a fresh set-up; later runs find everything up to date
# in well under a second.
setup: ## apt gcc+graphviz+chromium+debootstrap (one step), then .venv (3.13), .venv-3.12, sid chroot
	@$(MAKE) -s system-deps
	$(MAKE) -s -j4 $(STAMP) $(STAMP312) sid-setup viz

# Viz.js (Graphviz in WebAssembly, pinned in tools/fetch-viz) lays graphs out in the browser where
# there is no dot (JupyterLite, a machine without Graphviz); fetched from the npm registry once,
# shipped in monviz's package data (monviz/widgets/vendor/, git-ignored).
viz:
	@tools/fetch-viz

# The sid chroot for 3.14/3.15 is built here, with the venvs, so that the 3.13 run's
# monviz.compare tests find it ready. Where it cannot be had, `make test` says so.
sid-setup:
	@if $(SIDPY) available >/dev/null 2>&1; then $(SIDPY) setup; fi

# Graphviz's dot renders graphs; chromium is for the browser tests (never `playwright install`);
# gcc builds the compiled recorder (monviz._speedups) when monviz is installed; debootstrap
# builds the sid chroot (as root, until the chroot exists).
SYSTEM_DEPS := gcc=gcc dot=graphviz chromium=chromium npm=npm
system-deps:
	@deps="$(SYSTEM_DEPS)"
	if [ "$$(id -u)" = 0 ] && [ ! -e .chroot/sid/etc/monviz-sid-base ]; then deps+=" debootstrap=debootstrap"; fi
	$(call apt-need,$$deps)

need-dot:
	@$(call apt-need,dot=graphviz)

# Before the venvs, whose install compiles the extension. `make setup` has already installed
# it (system-deps); this is for targets such as `make lab` run on their own.
need-cc:
	@$(call apt-need,gcc=gcc)

# setup.py and the C source: a changed extension is rebuilt (by reinstalling monviz).
$(STAMP): pyproject.toml setup.py monviz/_speedups.c | need-cc
	@py=$$(tools/find-python any)
	ver=$$("$$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	$(call make-venv,$(VENV),$$py,$$ver)

# Optional unless CI=true: without a 3.12 interpreter this prints a note and makes no stamp.
$(STAMP312): pyproject.toml setup.py monviz/_speedups.c | need-cc
	@if ! py=$$(tools/find-python 3.12 2>/dev/null); then
	  if [ "$${CI:-}" = true ]; then
	    echo -n "CI=true requires the Python 3.12 test run: " >&2
	    tools/find-python 3.12 >/dev/null   # prints what to install, exits 1
	    exit 1
	  fi
	  echo "note: no Python 3.12 found, so there is no $(VENV312) and tests run on one interpreter only"
	  exit 0
	fi
	$(call make-venv,$(VENV312),$$py,3.12)

# ---------------------------------------------------------------------------------------
# Runs every step even after a failure, then exits 1 naming the failed ones. On each interpreter:
# first a check that the compiled backend is active (see check-backend), the tests with it, then
# the recorder tests again with the pure-Python backend. $(PURE_ENV) from the caller's
# environment is dropped, so that the first runs do use the compiled backend.
test: setup lite ## ruff; on 3.13 (suite + nbval) and 3.12, 3.14, 3.15 (unit + nbval-lax): backend check, tests, recorder tests again pure-Python
	@$(stop-on-ctrl-c)
	unset $(PURE_ENV)
	failed=()
	echo "== ruff check =="
	$(VENV)/bin/ruff check . || failed+=(ruff)
	main=$$($(VENV)/bin/python -c 'import platform; print(platform.python_version())')
	$(call check-backend,$(VENV)/bin/python,$$main)
	echo "== tests on Python $$main =="
	$(VENV)/bin/python -m pytest || failed+=("tests on $$main")
	echo "== recorder tests on Python $$main, pure-Python backend ($(PURE_ENV)=1) =="
	$(PURE_ENV)=1 $(VENV)/bin/python -m pytest $(RECORDER_TESTS) \
	  || failed+=("pure-Python recorder tests on $$main")
	if compgen -G 'tutorials/*.ipynb' >/dev/null; then
	  echo "== tutorials (nbval) on Python $$main =="
	  $(VENV)/bin/python -m pytest $(NBVAL_ARGS) tutorials/ || failed+=("tutorials on $$main")
	fi
	if [ ! -f $(STAMP312) ]; then
	  echo "== no $(VENV312): skipping the Python 3.12 run =="
	elif [[ $$main == 3.12.* ]]; then
	  echo "== $(VENV) is already Python $$main: skipping the second 3.12 run =="
	else
	  v=$$($(VENV312)/bin/python -c 'import platform; print(platform.python_version())')
	  $(call check-backend,$(VENV312)/bin/python,$$v)
	  echo "== tests on Python $$v ($(UNIT_ONLY)) =="
	  $(VENV312)/bin/python -m pytest tests -m "$(UNIT_ONLY)" || failed+=("tests on $$v")
	  echo "== recorder tests on Python $$v, pure-Python backend ($(PURE_ENV)=1) =="
	  $(PURE_ENV)=1 $(VENV312)/bin/python -m pytest $(RECORDER_TESTS) \
	    || failed+=("pure-Python recorder tests on $$v")
	  if compgen -G 'tutorials/*.ipynb' >/dev/null; then
	    echo "== tutorials (nbval-lax) on Python $$v =="
	    $(VENV312)/bin/python -m pytest $(NBVAL_LAX) || failed+=("tutorials on $$v")
	  fi
	fi
	$(call run-newer)
	$(call report-failed)

# Python 3.14 and 3.15 come from a Debian sid chroot cached in .chroot/ (~1 min the first
# time, then seconds). `tools/sid-python shell 3.15` opens a shell there.
test-newer: ## unit tests on Python 3.14 and 3.15 (sid chroot, root only), as in `make test`
	@$(stop-on-ctrl-c)
	unset $(PURE_ENV)
	failed=()
	$(call run-newer)
	$(call report-failed)

test-fast: $(STAMP) need-dot ## unit tests only, main venv only (no notebook/browser/slow)
	@$(VENV)/bin/python -m pytest tests -m "$(UNIT_ONLY) and not slow"

lint: $(STAMP) ## ruff check . (formatting is not enforced)
	@$(VENV)/bin/ruff check .

# LAB_ARGS adds options, e.g. `make lab LAB_ARGS=--port=8899`.
lab: $(STAMP) need-dot viz ## JupyterLab on tutorials/ at 127.0.0.1
	@root_flag=; [ "$$(id -u)" = 0 ] && root_flag=--allow-root
	exec $(VENV)/bin/jupyter lab tutorials/ --ip=127.0.0.1 $$root_flag $(LAB_ARGS)

bench: $(STAMP) need-dot ## recording, control-flow graph, widget, report and Perfetto benchmarks
	@for b in record cfg widgets report; do
	  [ -f benchmarks/$$b.py ] || continue
	  echo "== benchmarks/$$b.py =="
	  $(VENV)/bin/python benchmarks/$$b.py
	done

docs: $(STAMP) ## the tutorials as a static HTML site in docs/site (views as static SVG/HTML)
	@$(VENV)/bin/python docs/build.py docs/site

# The tutorials as a JupyterLite site that runs offline (tools/lite/README.md): Pyodide, monviz
# and the widgets are served by the site itself. Build tools in .venv-lite, downloads cached in
# .cache/lite/ and checked against tools/lite/pins.toml; a rebuild with both in place takes ~10 s
# and needs no network.
.PHONY: lite serve-lite
lite: viz ## JupyterLite site of the tutorials in build/lite, working offline (Pyodide, no server)
	@py=$$(tools/find-python any)
	"$$py" tools/lite/build.py

test-lite: setup lite ## the Lite site in Chromium, every tutorial Run All in Pyodide (~5 min)
	MONVIZ_LITE_ALL=1 $(VENV)/bin/python -m pytest tests/browser/test_lite_browser.py -v

# PORT=8899 make serve-lite, or make serve-lite PORT=8899
PORT ?= 8000
serve-lite: ## serve build/lite with http.server: http://127.0.0.1:8000/lab/index.html (PORT=N)
	@if [ ! -f build/lite/lab/index.html ]; then
	  echo "no site in build/lite: run 'make lite'" >&2
	  exit 1
	fi
	py=.venv-lite/bin/python
	[ -x "$$py" ] || py=$$(tools/find-python any)
	echo "serving build/lite: open http://127.0.0.1:$(PORT)/lab/index.html (Ctrl-C stops)"
	exec "$$py" -m http.server --bind 127.0.0.1 --directory build/lite $(PORT)

# .chroot/ (~0.45 GB, ~1 min to rebuild) is kept by `make clean`; this removes it, refusing
# while a run is using it or anything is mounted in it.
clean-chroot: ## remove the Python 3.14/3.15 sid chroot (.chroot/)
	@$(SIDPY) clean

clean: ## remove venvs, caches and build output (build/, the in-place monviz/*.so, fetched Viz.js, .cache/)
	@rm -rf $(VENV) $(VENV312) .venv-lite .cache monviz/widgets/vendor/*.js .pytest_cache .ruff_cache .hypothesis build dist \
	  .coverage .coverage.* htmlcov test-artifacts *.egg-info monviz/*.so
	find . \( -path ./.git -o -path './.venv*' -o -path './.chroot*' \) -prune \
	  -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -exec rm -rf {} +

help: ## list targets
	@echo "usage: make [target]   (default: setup)"
	grep -E '^[a-z0-9.-]+:.*## ' $(firstword $(MAKEFILE_LIST)) \
	  | sed -E 's/^([a-z0-9.-]+):.*## (.*)/  \1\t\2/' | expand -t 16
