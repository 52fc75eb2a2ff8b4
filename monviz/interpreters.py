"""Find a Python interpreter of a given version to run monviz in, for :func:`monviz.compare`.

3.12 and 3.13 are usually on PATH or in pyenv; 3.14 and 3.15 may only exist in the
project's Debian sid chroot (``tools/sid-python``, in a source checkout, as root).
Each interpreter runs monviz from this very source tree (``PYTHONPATH``), so the
same recorder code records under every version. Where no subprocess can start
(WebAssembly: ``monviz.versions.HAS_SUBPROCESSES``) there is none to run, not even
this very Python again: :func:`find` says so.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from .errors import MonvizError
from .versions import HAS_SUBPROCESSES, PLATFORM

#: The versions monviz supports, oldest first.
SUPPORTED = ("3.12", "3.13", "3.14", "3.15")
#: This interpreter's version, X.Y.Z.
THIS = "{}.{}.{}".format(*sys.version_info[:3])

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SID_RUNNER = os.path.join(_PACKAGE_PARENT, "tools", "sid-python")


@dataclass(frozen=True)
class Interpreter:
    """How to start one Python version with monviz importable."""

    version: str
    argv: tuple[str, ...]  # the command that starts that Python
    how: str  # "this process", "PATH", "pyenv" or "sid chroot"
    env: dict[str, str] = field(default_factory=dict, compare=False)

    def run(self, args: list[str], *, stdin: str = "", timeout: float = 300,
            pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess:
        """Run ``python ARGS`` under this interpreter, text in and out.

        ``pass_fds`` stay open in the child (also inside the sid chroot, which has
        ``/proc``, so the child can open them as ``/dev/fd/N``).
        """
        if not HAS_SUBPROCESSES:
            raise MonvizError(f"cannot run Python {self.version}: {PLATFORM} cannot start "
                              f"subprocesses")
        return subprocess.run([*self.argv, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **self.env},
                              pass_fds=pass_fds)


def _version_of(python: str) -> str | None:
    """The X.Y a candidate executable really runs (a pyenv shim may not run at all)."""
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _pyenv_root() -> str:
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


@functools.cache
def find(version: str) -> Interpreter | str:
    """An :class:`Interpreter` for ``version`` ("3.14"), or a sentence saying why there is none."""
    if not HAS_SUBPROCESSES:
        return (f"this platform, CPython {THIS} on {PLATFORM}, cannot start subprocesses, "
                f"so no Python can be run from it")
    env = {"PYTHONPATH": _PACKAGE_PARENT, "PYTHONDONTWRITEBYTECODE": "1"}
    if "{}.{}".format(*sys.version_info[:2]) == version:
        return Interpreter(version, (sys.executable,), "this process", env)
    candidates = [("PATH", shutil.which(f"python{version}"))]
    candidates += [("pyenv", p) for p in sorted(
        glob.glob(os.path.join(_pyenv_root(), "versions", f"{version}.*", "bin", "python3")),
        reverse=True)]
    for how, python in candidates:
        if python and _version_of(python) == version:
            return Interpreter(version, (python,), how, env)
    if os.path.exists(_SID_RUNNER) and version in ("3.14", "3.15"):
        check = subprocess.run([_SID_RUNNER, "available"], capture_output=True, text=True)
        if check.returncode == 0:
            return Interpreter(version, (_SID_RUNNER, "run", version, "--", "python"),
                               "sid chroot", {"SID_PASS_ENV": "PYTHONPATH",
                                              "PYTHONPATH": "/proj"})
        reason = check.stderr.strip().splitlines()[-1:] or ["the sid chroot is not available"]
        return f"Python {version} is not on PATH or in pyenv, and {reason[0]}"
    return (f"Python {version} is not on PATH or in pyenv"
            + ("" if version not in ("3.14", "3.15") else
               " (in a source checkout, tools/sid-python can provide it as root)"))
