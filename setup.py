"""Build monviz's optional C extension, ``monviz._speedups`` (all metadata is in pyproject.toml).

The extension is *optional*: where it does not compile (no C compiler, no
Python headers) setuptools logs the failure and installs the pure-Python
package, and monviz records with its pure-Python backend (it says so once when
it records). It is built against the stable ABI of 3.12 (``abi3``), so one
binary serves CPython 3.12 and every later non-free-threaded version.

``MONVIZ_PURE_PYTHON_BUILD=1`` builds no extension (a ``py3-none-any`` wheel).
Free-threaded interpreters (3.13t/3.14t) get no extension either: the stable
ABI does not exist there, and the recorder is not made thread-safe without the
GIL, so they use the pure-Python backend.
"""

import os
import sysconfig

from setuptools import Extension, setup

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
PURE = os.environ.get("MONVIZ_PURE_PYTHON_BUILD", "") not in ("", "0") or FREE_THREADED

speedups = Extension(
    "monviz._speedups",
    sources=["monviz/_speedups.c"],
    define_macros=[("Py_LIMITED_API", "0x030C0000")],
    py_limited_api=True,
    optional=True,
)

setup(
    ext_modules=[] if PURE else [speedups],
    options={} if PURE else {"bdist_wheel": {"py_limited_api": "cp312"}},
)
