"""Compile the user's source text exactly as ``python file.py`` would.

``compile()`` inherits the *calling module's* ``__future__`` flags unless told not
to (``dont_inherit``). Every monviz module has ``from __future__ import
annotations``, so a plain ``compile(text, ...)`` here would run the user's code
under PEP 563: annotations become strings, and on 3.14+ (PEP 649) every class body
gets other bytecode, so the recorded events would not be the program's own.

This module is the one place where monviz turns user text into code: the recorder
(``record(str)``, and so ``python -m monviz record`` and ``monviz.compare``'s child
runs), ``monviz.cfg(str)`` and ``python -m monviz run`` all come here.
"""

from __future__ import annotations

import io
import linecache
from types import CodeType

from .errors import InvalidArgumentError, SourceSyntaxError


def compile_source(source: str, filename: str) -> CodeType:
    """``source`` compiled as a module, with no compiler flag inherited from monviz.

    The source is registered in ``linecache`` under ``filename``, as IPython does for
    cells, so tracebacks and graphs of this code can show its lines. A syntax error
    becomes a :class:`SourceSyntaxError` carrying the position.
    """
    if not isinstance(filename, str):
        raise InvalidArgumentError(f"filename must be a str, not {type(filename).__name__}")
    try:
        code = compile(source, filename, "exec", flags=0, dont_inherit=True)
    except SyntaxError as exc:
        # SyntaxError's str() adds "(filename, line N)" itself
        err = SourceSyntaxError(f"the source does not compile: {exc.msg}")
        err.lineno, err.offset, err.text = exc.lineno, exc.offset, exc.text
        err.filename = filename
        raise err from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return code


def compile_file(path: str) -> CodeType:
    """A script file compiled as ``python path`` compiles it: from its bytes (so its
    PEP 263 coding line or BOM decides the encoding), under the path as given, with no
    flag inherited. A SyntaxError stays one, for the caller to report as Python would."""
    with io.open_code(path) as f:
        data = f.read()
    return compile(data, path, "exec", flags=0, dont_inherit=True)
