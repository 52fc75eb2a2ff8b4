"""Which recording backend records: the compiled one, or the pure-Python one.

Both produce the same events in the same Trace format (the test suite runs
against each). They differ in cost:

* **compiled** (``monviz._speedups``, a C extension built on ``pip install``):
  one C callback per event writes the trace's narrow columns directly; nothing
  is decoded afterwards and the Trace reads those columns in place.
* **python**: one small Python function per event appends to a list, which is
  decoded into the same columns when recording ends. Several times slower per
  event, and always available.

The compiled backend is used when it is importable, unless the environment
variable ``MONVIZ_PURE_PYTHON`` is set to anything but ``""`` or ``"0"`` (read
at each recording, so a test or a notebook can switch). Where the extension
could not be built (no C compiler at install time: pip prints nothing about an
optional extension that failed), monviz says so once, at the first recording.
Free-threaded builds (3.13t/3.14t) always use the pure-Python backend: the
recorder relies on the GIL to serialise its callbacks. So does CPython on
WebAssembly (Pyodide, JupyterLite: ``monviz.versions.NO_C_EXTENSION``), where the
extension is not built; there the extension is not even looked for (a mounted
desktop checkout holds an x86 ``.so``), and nothing is said at the first
recording, since no reinstall would change it: ``describe()`` says why.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

from .versions import NO_C_EXTENSION

PURE_ENV = "MONVIZ_PURE_PYTHON"
COMPILED, PYTHON = "compiled", "python"


def _import_speedups() -> tuple[ModuleType | None, str]:
    if NO_C_EXTENSION:
        return None, NO_C_EXTENSION
    gil = getattr(sys, "_is_gil_enabled", lambda: True)
    if not gil():
        return None, "this is a free-threaded Python, which the compiled recorder does not support"
    try:
        from . import _speedups
    except ImportError as exc:
        return None, f"monviz._speedups could not be imported ({exc})"
    return _speedups, ""


speedups, why_not = _import_speedups()
_told = False
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))  # warnings point past monviz


class PurePythonBackendWarning(RuntimeWarning):
    """monviz records with its slower pure-Python backend: the C extension is missing."""


def forced_pure() -> bool:
    """Is ``MONVIZ_PURE_PYTHON`` set (to anything but "" or "0")?"""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def backend() -> str:
    """``"compiled"`` or ``"python"``: the backend the next recording will use."""
    return COMPILED if speedups is not None and not forced_pure() else PYTHON


def describe() -> str:
    """One line for people: the active backend, and why when it is not the compiled one."""
    if backend() == COMPILED:
        return f"compiled ({speedups.__file__})"
    if forced_pure():
        return f"python ({PURE_ENV} is set)"
    return f"python ({why_not})"


def tell_once() -> None:
    """At the first recording without the compiled backend (not asked for), say why once.

    Not where the platform has no C extension at all (WebAssembly): nothing to fix there.
    """
    global _told
    no_fix = bool(NO_C_EXTENSION) and why_not == NO_C_EXTENSION
    if _told or speedups is not None or forced_pure() or no_fix:
        return
    _told = True
    warnings.warn(
        f"monviz records with its pure-Python backend, several times slower per event: "
        f"{why_not}. Reinstall monviz where a C compiler and the Python headers are present "
        f"(e.g. 'apt-get install gcc python3-dev') to build it; set {PURE_ENV}=1 to use the "
        f"pure-Python backend on purpose and silence this warning.",
        PurePythonBackendWarning, skip_file_prefixes=(_PACKAGE_DIR,),
    )

