# monviz developer tasks; `make help` lists them. Plain `make` = `make setup`.
#
#   .venv       main venv, Python 3.13 when there is one (tools/find-python any)
#   .venv-3.12  secondary venv for the 3.12 test run (skipped with a note if no 3.12;
#               required when CI=true)
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

NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tutorials/nbval_sanitize.cfg
UNIT_ONLY  := not notebook and not browser

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

# $(call make-venv,DIR,PYTHON,X.Y): (re)create DIR unless it already runs X.Y, install
# monviz[dev] editable into it, write the stamp.
define make-venv
if [ "$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$(3)" ]; then
  echo "creating $(1) with Python $(3): $(2)"
  rm -rf $(1)
  "$(2)" -m venv $(1)
fi
echo "installing monviz[dev] into $(1) (pip -q)"
$(1)/bin/python -m pip install -q -e '.[dev]' 2>&1 | $(PIP_FILTER)
echo "$(3)" > $(1)/.stamp
endef

# $(call apt-need,CMD=DEBIAN_PKG ...): install the packages whose command is missing
# (as root), or stop with one line saying what to install.
define apt-need
pkgs=(); what=
for dep in $(1); do
  cmd=$${dep%%=*}
  command -v "$$cmd" >/dev/null 2>&1 && continue
  pkgs+=("$${dep#*=}")
  case $$cmd in dot) label="Graphviz's dot" ;; chromium) label=Chromium ;; *) label=$$cmd ;; esac
  what=$${what:+$$what and }$$label
done
if [ $${#pkgs[@]} -gt 0 ]; then
  if [ "$$(id -u)" != 0 ]; then
    verb=are; [ $${#pkgs[@]} -eq 1 ] && verb=is
    echo "$$what $$verb missing: run 'sudo apt-get install $${pkgs[*]}'" >&2
    exit 1
  fi
  echo "installing $${pkgs[*]} with apt-get"
  apt-get update -qq
  apt-get install -y -qq "$${pkgs[@]}" >/dev/null
  for dep in $(1); do command -v "$${dep%%=*}" >/dev/null; done
fi
endef

# ---------------------------------------------------------------------------------------
.PHONY: setup system-deps need-dot test test-fast lab bench lint clean help

# The three parts are independent; building them in parallel halves a fresh set-up
# (~65 s instead of ~150 s here). Later runs find everything up to date in well under a second.
setup: ## apt graphviz+chromium, .venv (3.13) and .venv-3.12
	@$(MAKE) -s -j3 system-deps $(STAMP) $(STAMP312)

# Graphviz's dot renders graphs; chromium is for the browser tests (never `playwright install`).
system-deps:
	@$(call apt-need,dot=graphviz chromium=chromium)

need-dot:
	@$(call apt-need,dot=graphviz)

$(STAMP): pyproject.toml
	@py=$$(tools/find-python any)
	ver=$$("$$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	$(call make-venv,$(VENV),$$py,$$ver)

# Optional unless CI=true: without a 3.12 interpreter this prints a note and makes no stamp.
$(STAMP312): pyproject.toml
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
# Runs every step even after a failure, then exits 1 naming the failed ones.
test: setup ## ruff, whole suite + tutorials (nbval) on 3.13, unit tests on 3.12
	@failed=()
	echo "== ruff check =="
	$(VENV)/bin/ruff check . || failed+=(ruff)
	main=$$($(VENV)/bin/python -c 'import platform; print(platform.python_version())')
	echo "== tests on Python $$main =="
	$(VENV)/bin/python -m pytest || failed+=("tests on $$main")
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
	  echo "== tests on Python $$v ($(UNIT_ONLY)) =="
	  $(VENV312)/bin/python -m pytest tests -m "$(UNIT_ONLY)" || failed+=("tests on $$v")
	fi
	if [ $${#failed[@]} -gt 0 ]; then
	  echo "== FAILED: $$(IFS=,; echo "$${failed[*]}" | sed 's/,/, /g') =="
	  exit 1
	fi
	echo "== all passed =="

test-fast: $(STAMP) need-dot ## unit tests only, main venv only (no notebook/browser/slow)
	@$(VENV)/bin/python -m pytest tests -m "$(UNIT_ONLY) and not slow"

lint: $(STAMP) ## ruff check . (formatting is not enforced)
	@$(VENV)/bin/ruff check .

# LAB_ARGS adds options, e.g. `make lab LAB_ARGS=--port=8899`.
lab: $(STAMP) need-dot ## JupyterLab on tutorials/ at 127.0.0.1
	@root_flag=; [ "$$(id -u)" = 0 ] && root_flag=--allow-root
	exec $(VENV)/bin/jupyter lab tutorials/ --ip=127.0.0.1 $$root_flag $(LAB_ARGS)

bench: $(STAMP) need-dot ## run benchmarks/record.py
	@$(VENV)/bin/python benchmarks/record.py

clean: ## remove venvs, caches and build output
	@rm -rf $(VENV) $(VENV312) .pytest_cache .ruff_cache .hypothesis build dist \
	  .coverage .coverage.* htmlcov test-artifacts *.egg-info
	find . \( -path ./.git -o -path './.venv*' -o -path './.chroot*' \) -prune \
	  -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -exec rm -rf {} +

help: ## list targets
	@echo "usage: make [target]   (default: setup)"
	grep -E '^[a-z0-9.-]+:.*## ' $(firstword $(MAKEFILE_LIST)) \
	  | sed -E 's/^([a-z0-9.-]+):.*## (.*)/  \1\t\2/' | expand -t 14
