"""Trace files: ``trace.save(path)`` and ``monviz.load(path)``.

A trace file holds a Trace's columns as they are in memory, so saving is a
write of each column's buffer and loading a read of the file and a
``memoryview.cast`` per column: no pass per event in Python, and the loaded
columns are views of the one buffer the file was read into. Layout (integers
little-endian)::

    offset  size
    0       8    magic b"\\x89MONVIZ\\n" (the high byte and the newline catch
                 7-bit and newline-translating transfers, as PNG's does)
    8       4    format version (:data:`VERSION`)
    12      4    n, the header's length in bytes
    16      4    CRC-32 of the header
    20      n    header: UTF-8 JSON (below)
    ...          sections, each starting at a multiple of :data:`ALIGN` bytes

The header says everything but the bulk: the trace's kinds, requested events,
code infos (qualname, file, first line, line table), source texts, thread ids,
dropped count, call depth at the start, truncation, exception text, Python
version, ``byteorder`` of the machine that wrote it, and ``sections``: per
section its name, ``type`` (an ``array`` typecode, or ``"text"`` for a list
of strings), ``itemsize``, ``length`` (items), ``offset``, ``nbytes``
(stored), ``codec`` (``"raw"`` or ``"zlib"``) and ``crc32`` of the stored
bytes. The sections are the per-event columns of :data:`monviz._stream.PACKED`,
the ``values`` table (the display texts of recorded values), and for a
``values=True`` recording the columns and texts of its
:class:`~monviz.frames.FrameValues` (``fv.*``). A text section is its strings
joined by NUL (``"sep": "nul"``) or, when a string holds a NUL, a JSON array
(``"sep": "json"``), in UTF-8.

Loading checks, in this order, and says what is wrong in a
:class:`~monviz.errors.TraceFileError`: the magic (not a trace file), the
version (newer than this monviz reads: upgrade), the header's CRC and
structure, the file's length (truncated), each section's CRC (corrupt). A
file written on a machine of the other byte order is byte-swapped while it is
read. Saving writes a temporary file beside the target and renames it over the
target (``os.replace``), so a reader never sees half a file.

Compression (``compress=True``: zlib level 1 per section) makes files about
8x smaller (10M events: 0.89 B/event against 7.4) for 1.6x the save time and
1.6x the load time (301 ms and 119 ms against 186 and 73); it is off by default
because a raw file saves and loads at the speed of memory and loads without a
copy (``benchmarks/scale.py`` measures both).
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import struct
import sys
import warnings
import zlib
from array import array

from . import _stream
from .errors import CorruptTraceFile, NotATraceFile, TraceFileVersionError
from .trace import FORMAT, CodeInfo, Trace
from .values import text_list

MAGIC = b"\x89MONVIZ\n"
#: The format version this module writes, and the newest it reads.
VERSION = 1
ALIGN = 64
_PRELUDE = struct.Struct("<8sIII")  # magic, version, header length, header CRC
_INT_TYPES = "bBhHiIlLqQ"

#: The array columns of a values=True recording's FrameValues, and their sections.
_FRAME_COLUMNS = ("point_event", "point_frame", "parents", "changes", "heap")


def save(trace: Trace, path, *, compress: bool = False, byteorder: str = sys.byteorder
         ) -> pathlib.Path:
    """Write ``trace`` to ``path`` (str or PathLike) in the trace file format; the path.

    ``compress``: zlib level 1 per section (smaller, slower). ``byteorder``
    (``"little"``/``"big"``): the byte order of the columns written (this
    machine's unless told; a loader of either order reads both).
    """
    path = pathlib.Path(path)
    d = trace._d
    sections: list[tuple[dict, object]] = []

    def column(name: str, col) -> None:
        code = _stream.typecode(col)
        item = col.itemsize
        if byteorder != sys.byteorder and item > 1:
            col = array(code, col)
            col.byteswap()
        sections.append(({"name": name, "type": code, "itemsize": item, "length": len(col)},
                         memoryview(col).cast("B")))

    def texts(name: str, items: list[str]) -> None:
        joined = "\0".join(items)
        sep = "nul" if joined.count("\0") == len(items) - 1 or not items else "json"
        if sep == "json":
            joined = json.dumps(items)
        sections.append(({"name": name, "type": "text", "sep": sep, "length": len(items)},
                         joined.encode("utf-8", "surrogatepass")))

    for name in _stream.PACKED:
        column(name, getattr(d, name))
    texts("values", text_list(d.values))
    fv = trace._values
    frame_values = None
    if fv is not None:
        for name in _FRAME_COLUMNS:
            column(f"fv.{name}", getattr(fv, name))
        column("fv.point_kind", array("B", fv.point_kind))
        column("fv.frame_code", array("q", fv.frame_code))
        column("fv.frame_module", array("B", fv.frame_module))
        texts("fv.names", fv.names)
        texts("fv.texts", fv.texts)
        frame_values = {"failures": fv.failures}

    offset = 0
    described = []
    blobs = []
    for info, data in sections:
        if compress:
            data = zlib.compress(data, 1)
        info.update(codec="zlib" if compress else "raw", offset=offset, nbytes=len(data),
                    crc32=zlib.crc32(data))
        described.append(info)
        blobs.append(data)
        offset += _padded(len(data))

    header = json.dumps({
        "format": FORMAT, "byteorder": byteorder, "python": trace.python,
        "kinds": list(trace.kind_names), "events": list(trace.events),
        "codes": [c.to_dict() for c in trace.code_infos()], "sources": trace.sources,
        "threads": list(d.threads), "dropped": d.dropped, "level0": d.level0,
        "truncated": trace.truncated, "exception": trace.exception_repr,
        "frame_values": frame_values, "sections": described,
    }, separators=(",", ":")).encode()
    start = _padded(_PRELUDE.size + len(header))  # sections' offsets are relative to it
    prelude = _PRELUDE.pack(MAGIC, VERSION, len(header), zlib.crc32(header))

    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as f:
            f.write(prelude)
            f.write(header)
            f.write(bytes(start - _PRELUDE.size - len(header)))
            for data in blobs:
                f.write(data)
                f.write(bytes(_padded(len(data)) - len(data)))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load(path) -> Trace:
    """The Trace saved at ``path`` by :func:`save` (or as JSON by ``Trace.to_json``).

    Raises :class:`~monviz.errors.NotATraceFile`, :class:`~monviz.errors.TraceFileVersionError`
    or :class:`~monviz.errors.CorruptTraceFile`, naming the file; ``OSError`` as
    ``open`` does (a missing file, a directory).
    """
    path = pathlib.Path(path)
    with open(path, "rb") as f:
        data = f.read()  # one buffer (no zero-fill first); the columns are views of it
    return _parse(path, data)


def _parse(path: pathlib.Path, data: bytes) -> Trace:
    if not data.startswith(MAGIC):
        if data.lstrip()[:1] == b"{":  # Trace.to_json's output
            return _from_json(path, data)
        what = "an empty file" if not data else f"starts with {data[:8]!r}"
        raise NotATraceFile(f"{path} is not a monviz trace file ({what}; a trace file "
                            f"starts with {MAGIC!r}, written by Trace.save)")
    if len(data) < _PRELUDE.size:
        raise CorruptTraceFile(f"{path}: truncated: {len(data)} bytes, shorter than a header")
    _, version, n, crc = _PRELUDE.unpack_from(data)
    if version > VERSION:
        raise TraceFileVersionError(
            f"{path} is a monviz trace file of format version {version}; this monviz "
            f"reads versions up to {VERSION}: upgrade monviz to load it", version=version)
    end = _PRELUDE.size + n
    if len(data) < end:
        raise CorruptTraceFile(f"{path}: truncated: {len(data)} bytes, its header alone "
                               f"needs {end}")
    header_bytes = data[_PRELUDE.size:end]
    if zlib.crc32(header_bytes) != crc:
        raise CorruptTraceFile(f"{path}: corrupt: the header fails its checksum")
    try:
        header = json.loads(header_bytes)
        return _build(path, data, header, _padded(end))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        if isinstance(exc, CorruptTraceFile):
            raise
        raise CorruptTraceFile(f"{path}: corrupt: its header does not describe a trace "
                               f"({type(exc).__name__}: {exc})") from None


def _build(path: pathlib.Path, data: bytes, header: dict, start: int) -> Trace:
    if header["byteorder"] not in ("little", "big"):
        raise ValueError(f"byteorder {header['byteorder']!r}")
    swap = header["byteorder"] != sys.byteorder
    view = memoryview(data)
    need = max((start + s["offset"] + s["nbytes"] for s in header["sections"]), default=start)
    if len(data) < need:
        raise CorruptTraceFile(f"{path}: truncated: {len(data)} bytes, its header describes "
                               f"{need}")
    got: dict[str, object] = {}
    for s in header["sections"]:
        at = start + s["offset"]
        stored = view[at:at + s["nbytes"]]
        if zlib.crc32(stored) != s["crc32"]:
            raise CorruptTraceFile(f"{path}: corrupt: section {s['name']!r} fails its "
                                   f"checksum")
        if s["codec"] == "zlib":
            try:
                stored = memoryview(zlib.decompress(stored))
            except zlib.error as exc:
                raise CorruptTraceFile(f"{path}: corrupt: section {s['name']!r} does not "
                                       f"decompress ({exc})") from None
        elif s["codec"] != "raw":
            raise ValueError(f"unknown codec {s['codec']!r}")
        if s["type"] == "text":
            got[s["name"]] = _texts(stored, s)
        else:
            got[s["name"]] = _column(stored, s, swap)

    d = _stream.Decoded()
    for name in _stream.PACKED:
        setattr(d, name, got[name])
    d.values = got["values"]
    d.threads, d.dropped, d.level0 = header["threads"], header["dropped"], header["level0"]
    d.count = len(d.kind)
    sources = header["sources"]
    codes = _relink([CodeInfo.from_dict(c) for c in header["codes"]], sources,
                    header["python"])
    trace = Trace(d, kind_names=header["kinds"], codes=codes, sources=sources,
                  truncated=header["truncated"], exception_repr=header["exception"],
                  python=header["python"], events=header["events"])
    fv = header["frame_values"]
    if fv is not None:
        from .frames import FrameValues

        trace._values = FrameValues(
            **{name: got[f"fv.{name}"] for name in _FRAME_COLUMNS},
            point_kind=got["fv.point_kind"].tobytes(), frame_code=got["fv.frame_code"].tolist(),
            frame_module=list(map(bool, got["fv.frame_module"])), names=got["fv.names"],
            texts=got["fv.texts"], failures=fv["failures"])
    return trace


def _column(stored: memoryview, s: dict, swap: bool):
    """A section as a memoryview of the (read-only) bytes read; an array when swapped."""
    code, item = s["type"], s["itemsize"]
    if code not in _INT_TYPES or item not in (1, 2, 4, 8):
        raise ValueError(f"column {s['name']!r} of type {code!r}")
    if array(code).itemsize != item:  # e.g. 'l' is 4 bytes on Windows, 8 elsewhere
        signed = code.islower()
        code = next(c for c in _INT_TYPES
                    if c.islower() == signed and array(c).itemsize == item)
    if len(stored) != s["length"] * item:
        raise ValueError(f"column {s['name']!r} holds {len(stored)} bytes, not "
                         f"{s['length']} x {item}")
    if swap and item > 1:
        col = array(code)
        col.frombytes(stored)
        col.byteswap()
        return col
    return stored.cast(code)


def _texts(stored: memoryview, s: dict) -> list[str]:
    text = str(stored, "utf-8", "surrogatepass")
    items = json.loads(text) if s["sep"] == "json" else text.split("\0") if s["length"] else []
    if len(items) != s["length"]:
        raise ValueError(f"section {s['name']!r} holds {len(items)} strings, not {s['length']}")
    return items


def _relink(codes: list[CodeInfo], sources: dict[str, str], python: str) -> list[CodeInfo]:
    """Code infos with their code objects again, where this Python compiles the saved
    source into code with the same qualname, first line and line table (same bytecode
    offsets), so a loaded trace's control-flow graphs can be drawn. Only for a trace
    recorded by this Python's major.minor version; nothing is executed."""
    if python.split(".")[:2] != [str(v) for v in sys.version_info[:2]]:
        return codes
    from .recorder import code_tree

    found: dict[tuple, object] = {}
    for filename in {c.filename for c in codes if c.filename in sources}:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                top = compile(sources[filename], filename, "exec", flags=0, dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        for code in code_tree(top):
            key = (code.co_qualname, code.co_filename, code.co_firstlineno, tuple(code.co_lines()))
            found.setdefault(key, code)
    if not found:
        return codes
    out = []
    for c in codes:
        code = found.get((c.qualname, c.filename, c.firstlineno, c.line_table))
        out.append(c if code is None else CodeInfo(c.qualname, c.filename, c.firstlineno,
                                                   c.line_table, code))
    return out


def _from_json(path: pathlib.Path, data: bytes) -> Trace:
    from .errors import MonvizError

    try:
        return Trace.from_json(data.decode("utf-8"))
    except MonvizError as exc:
        raise NotATraceFile(f"{path}: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptTraceFile(f"{path}: a JSON file that is not a monviz trace "
                               f"({type(exc).__name__}: {exc})") from None


def _padded(n: int) -> int:
    return -(-n // ALIGN) * ALIGN
