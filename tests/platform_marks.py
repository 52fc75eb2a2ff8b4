"""Skip marks for tests that need what some platforms lack, from the one place that knows.

``monviz.versions.HAS_THREADS`` and ``HAS_SUBPROCESSES`` are False under WebAssembly
(Pyodide: ``tools/pyodide-test`` runs the suite there); a test that starts a thread or
a subprocess carries the mark and is skipped there with the reason, never deleted.
"""

from __future__ import annotations

import pytest

from monviz.versions import HAS_SUBPROCESSES, HAS_THREADS, PLATFORM

needs_threads = pytest.mark.skipif(
    not HAS_THREADS, reason=f"starts a thread, which {PLATFORM} cannot")
needs_subprocesses = pytest.mark.skipif(
    not HAS_SUBPROCESSES, reason=f"starts a subprocess, which {PLATFORM} cannot")


def params(names, threaded) -> list:
    """``names`` as pytest parameters, those in ``threaded`` marked :data:`needs_threads`."""
    return [pytest.param(n, marks=needs_threads) if n in threaded else n for n in names]


def runnable(names, threaded) -> list:
    """The names a loop over every program can run here (``threaded`` ones need threads)."""
    return [n for n in names if HAS_THREADS or n not in threaded]
