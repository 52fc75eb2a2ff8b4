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
