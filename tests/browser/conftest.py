"""A real JupyterLab 4 in headless Debian Chromium, driven by Playwright (no Galata).

The ``lab`` fixture serves a temporary root (tests write their notebooks there)
with every Jupyter directory pointed into a temp home, so nothing of the user's
set-up is read or written (labserver.py; benchmarks/widgets.py starts its Lab with it
too). Chromium is Debian's (``playwright install`` cannot download here). Missing
Chromium skips these tests, except under ``CI=true``, where it fails them: a missing
browser must never pass for green.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from labserver import jupyterlab  # tests/browser/labserver.py (benchmarks/widgets.py too)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "monviz-browser-test"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def _need_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium; make setup does it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # pytest-playwright hook
    _need_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab on a free port: ``{"base", "token", "root"}``; stopped with SIGTERM."""
    _need_chromium()
    home = tmp_path_factory.mktemp("labhome")
    root = tmp_path_factory.mktemp("labroot")
    with jupyterlab(home, root, TOKEN, timeout=60) as base:
        yield {"base": base, "token": TOKEN, "root": root}
