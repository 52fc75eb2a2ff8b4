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
from setuptools.command.bdist_wheel import bdist_wheel

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
PURE = os.environ.get("MONVIZ_PURE_PYTHON_BUILD", "") not in ("", "0") or FREE_THREADED

speedups = Extension(
    "monviz._speedups",
    sources=["monviz/_speedups.c"],
    define_macros=[("Py_LIMITED_API", "0x030C0000")],
    py_limited_api=True,
    optional=True,
)



class WheelOfWhatWasBuilt(bdist_wheel):
    """Tag the wheel by what it holds: ``cp312-abi3-<platform>`` with the extension,
    ``py3-none-any`` when it could not be built (no compiler). A platform-tagged wheel
    with no binary in it would be taken for a compiled one, and pip would keep
    reusing it from its cache after a compiler is installed."""

    def run(self):
        if not self.skip_build:
            self.run_command("build")
        build_ext = self.get_finalized_command("build_ext")
        outputs = build_ext.get_outputs()
        if not outputs or not all(os.path.exists(path) for path in outputs):
            self.distribution.ext_modules = []  # installed as pure Python (purelib)
            self.root_is_pure = True
            self.py_limited_api = False
        super().run()


setup(
    ext_modules=[] if PURE else [speedups],
    options={} if PURE else {"bdist_wheel": {"py_limited_api": "cp312"}},
    cmdclass={"bdist_wheel": WheelOfWhatWasBuilt},
)
