"""Test set-up: make monviz importable from a plain checkout (no install needed)."""

import importlib.util
import os
import signal
import sys

import pytest

if importlib.util.find_spec("monviz") is None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler, for tests that interrupt a recording with SIGINT.

    A shell starting a job in the background (as CI may) sets SIGINT to be ignored,
    and Python keeps it so; the signal would then never become KeyboardInterrupt.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def use_backend(monkeypatch):
    """``use_backend("compiled" | "python")``: the recordings that follow use that backend.

    Set through ``MONVIZ_PURE_PYTHON`` (read at each recording), restored after the
    test. Asking for the compiled backend where it is not built skips the test.
    """
    from monviz import backends

    def use(name: str) -> None:
        if name == backends.COMPILED:
            if backends.speedups is None:
                pytest.skip(f"the compiled backend is not available: {backends.why_not}")
            monkeypatch.delenv(backends.PURE_ENV, raising=False)
        else:
            monkeypatch.setenv(backends.PURE_ENV, "1")
        assert backends.backend() == name

    return use
