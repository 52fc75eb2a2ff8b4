"""Which code objects a recording watches: "your code" or everything but monviz.

``scope="user"`` means the code a learner wrote: the recorded target, earlier
notebook cells, their own scripts and modules. It never includes the standard
library, installed packages (site-packages) or monviz itself. ``scope="all"``
is every Python code object except monviz's own.

The decision is made once per code object, when it first starts, from its
``co_filename``; it is cached per file name because a file's code objects all
share it.
"""

from __future__ import annotations

import contextlib
import os
import site
import sys
import sysconfig
from types import CodeType

from .errors import InvalidArgumentError

SCOPES = ("user", "all")

_MONVIZ_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    """Folders whose code is never "user" code: the stdlib and every site-packages."""
    dirs: set[str] = set()
    for scheme_paths in (sysconfig.get_paths(), sysconfig.get_paths(vars={
            "base": sys.base_prefix, "platbase": sys.base_exec_prefix})):
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            path = scheme_paths.get(key)
            if path:
                dirs.add(path)
    with contextlib.suppress(AttributeError):  # some embedded interpreters lack it
        dirs.update(site.getsitepackages())
    user_site = getattr(site, "USER_SITE", None)
    if user_site:
        dirs.add(user_site)
    dirs.update(p for p in sys.path
                if p.rstrip(os.sep).endswith(("site-packages", "dist-packages")))
    # The zipped standard library (python314.zip; Pyodide imports the stdlib and its own
    # pyodide package from /lib/python314.zip/...): its modules' files are inside it.
    dirs.update(p for p in sys.path if p.endswith("python{}{}.zip".format(*sys.version_info)))
    return tuple(sorted({os.path.realpath(d) + os.sep for d in dirs} | {d + os.sep for d in dirs}))


LIBRARY_DIRS = _library_dirs()


def is_monviz_file(filename: str) -> bool:
    """True for monviz's own source files (never recorded in any scope)."""
    return filename.startswith(_MONVIZ_DIR)


def is_user_file(filename: str) -> bool:
    """True when code from ``filename`` counts as the user's own code.

    Pseudo-files (``<monviz-3>``, ``<ipython-input-...>``, ``<stdin>``) are user
    code, except the interpreter's frozen modules (``<frozen ...>``) and
    ``<string>``, the name ``exec``/``eval`` give code compiled without one —
    which is how the standard library generates code (a namedtuple's
    ``__new__``, a dataclass's ``__init__``). Real files are user code unless
    they live in the standard library or a site-packages folder.
    """
    if is_monviz_file(filename):
        return False
    if filename.startswith("<"):
        return not filename.startswith(("<frozen", "<string>"))
    return not filename.startswith(LIBRARY_DIRS)


def check_scope(scope: str) -> str:
    """Validate a ``scope=`` argument, with the valid values in the message."""
    if scope not in SCOPES:
        raise InvalidArgumentError(
            f"scope must be one of {', '.join(map(repr, SCOPES))}, not {scope!r}")
    return scope


class ScopeFilter:
    """Answers "is this code object recorded?" with a per-filename cache.

    ``only`` narrows the scope to code objects with these names (``co_qualname``
    or ``co_name``): ``%%monitor --code f,g`` records nothing else.
    """

    def __init__(self, scope: str, only: frozenset[str] | None = None):
        self.scope = check_scope(scope)
        self.only = only
        self._files: dict[str, bool] = {}

    def __call__(self, code: CodeType) -> bool:
        if self.only is not None and not (code.co_qualname in self.only
                                          or code.co_name in self.only):
            return False
        filename = code.co_filename
        known = self._files.get(filename)
        if known is None:
            if self.scope == "all":
                known = not is_monviz_file(filename)
            else:
                known = is_user_file(filename)
            self._files[filename] = known
        return known
