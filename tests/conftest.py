"""Test set-up: make monviz importable from a plain checkout (no install needed)."""

import asyncio
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


def pytest_collection_modifyitems(config, items):
    """The browser tests run last.

    pytest-playwright's session-scoped ``playwright`` fixture leaves an asyncio event loop
    *running* in the main thread until the session ends (its sync API runs the loop in a
    greenlet), so every test after the first browser test would find ``asyncio.run()``
    refused ("cannot be called from a running event loop"): the oracle programs that use
    asyncio then fail before awaiting their coroutine (the "coroutine 'amain' was never
    awaited" warnings) and compare a failure, not the program.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


#: The event loop running when the session began: None, except under Pyodide, whose
#: WebLoop is always the running loop (and asyncio.run works beside it there).
_SESSION_LOOP = asyncio.events._get_running_loop()


@pytest.fixture(autouse=True)
def _no_running_event_loop(request):
    """Outside the browser tests, no event loop may be running when a test starts."""
    if request.node.get_closest_marker("browser") is None:
        loop = asyncio.events._get_running_loop()
        assert loop is _SESSION_LOOP, f"an event loop is running in the main thread: {loop!r}"
    yield
