"""Trace files: ``trace.save(path)`` / ``monviz.load(path)`` give back the same trace,
and a damaged, foreign or newer file is refused with an error naming the file."""

from __future__ import annotations

import json
import os
import pathlib
import struct
import sys
import textwrap
import zlib

import pytest
from platform_marks import needs_threads, params, runnable
from test_recorder_oracle import PROGRAMS, THREADED

import monviz
from monviz import storage
from monviz.errors import (
    CorruptTraceFile,
    MonvizError,
    NotATraceFile,
    TraceFileError,
    TraceFileVersionError,
)

BACKENDS = ["compiled", "python"]


def record_program(name: str, **kwargs) -> monviz.Trace:
    """Program ``name`` of the oracle tests, recorded as source text (so its source is kept)."""
    source = textwrap.dedent(PROGRAMS[name]) + "\nmain()\n"
    return monviz.record(source, filename=f"<storage-{name}>", **kwargs)


def round_trip(trace: monviz.Trace, tmp_path, **kwargs) -> monviz.Trace:
    return monviz.load(trace.save(tmp_path / "trace.monviz", **kwargs))


def assert_same(a: monviz.Trace, b: monviz.Trace) -> None:
    """Every query of the Trace API answers the same on both."""
    assert len(b) == len(a)
    assert list(b) == list(a)
    assert b.to_records() == a.to_records()
    assert b.to_json() == a.to_json()
    assert b.counts() == a.counts() and b.totals() == a.totals()
    assert b.codes() == a.codes() and b.code_infos() == a.code_infos()
    assert b.code_ids() == a.code_ids()
    assert list(b.depths()) == list(a.depths())
    assert b.threads == a.threads and b.dropped == a.dropped and b.truncated == a.truncated
    assert b.exception_repr == a.exception_repr and b.python == a.python
    assert b.events == a.events and b.sources == a.sources and b.kind_names == a.kind_names
    assert b.nbytes == a.nbytes and repr(b) == repr(a)
    for info in a.codes():
        assert b.source_of(info) == a.source_of(info)
    for events in [[kind] for kind in a.totals()] + [["PY_START", "PY_RETURN", "RAISE"]]:
        assert b.filter(events=events).to_json() == a.filter(events=events).to_json()
    for info in a.codes()[:3]:
        assert b.filter(code=info.qualname).to_json() == a.filter(code=info.qualname).to_json()
    assert (b.values is None) == (a.values is None)
    if a.values is not None:
        for i in range(len(a)):
            assert b.frames_at(i) == a.frames_at(i)
        for name in a.values.names:
            assert b.values_of(name) == a.values_of(name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", params(PROGRAMS, THREADED))
def test_a_loaded_trace_answers_every_query_as_the_recorded_one(name, backend, use_backend,
                                                                  tmp_path):
    use_backend(backend)
    trace = record_program(name)
    assert len(trace) > 0
    assert_same(trace, round_trip(trace, tmp_path))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["recursion", "generator_send_throw_close",
                                  "exceptions_through_finally", "comprehensions"])
def test_values_recordings_keep_their_frames_and_variables(name, backend, use_backend, tmp_path):
    use_backend(backend)
    trace = record_program(name, values=True)
    assert trace.values is not None and len(trace.values) > 0
    assert_same(trace, round_trip(trace, tmp_path))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_capped_failing_recording_keeps_its_cap_and_failure(backend, use_backend, tmp_path):
    use_backend(backend)
    trace = monviz.record("def f(n):\n    return f(n + 1) if n < 50 else 1 / 0\nf(0)\n",
                          max_events=40)
    assert trace.truncated and trace.dropped and len(trace) == 40
    again = round_trip(trace, tmp_path)
    assert_same(trace, again)
    assert again.exception is None  # the exception object is not kept, its text is


@needs_threads
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trace_of_several_threads_keeps_threads_and_depths(backend, use_backend, tmp_path):
    use_backend(backend)
    trace = record_program("threads")
    assert len(trace.threads) > 1
    assert_same(trace, round_trip(trace, tmp_path))


@pytest.mark.parametrize("compress", [False, True])
def test_compressed_and_raw_files_load_the_same(compress, tmp_path):
    trace = record_program("branches_and_loops")
    assert_same(trace, round_trip(trace, tmp_path, compress=compress))


def test_compression_makes_a_long_trace_smaller(tmp_path):
    trace = monviz.record("for i in range(20000):\n    i % 7\n")
    raw = trace.save(tmp_path / "raw.monviz").stat().st_size
    small = trace.save(tmp_path / "small.monviz", compress=True).stat().st_size
    assert small < raw / 3


def test_a_file_of_the_other_byte_order_is_swapped_on_load(tmp_path):
    trace = record_program("recursion", values=True)
    other = "big" if sys.byteorder == "little" else "little"
    path = storage.save(trace, tmp_path / "other.monviz", byteorder=other)
    assert json.loads(_header(path.read_bytes()))["byteorder"] == other
    assert path.read_bytes() != trace.save(tmp_path / "native.monviz").read_bytes()
    assert_same(trace, monviz.load(path))


def test_a_loaded_trace_has_its_code_objects_again_for_graphs(tmp_path):
    trace = record_program("branches_and_loops")
    again = round_trip(trace, tmp_path)
    infos = [info for info in again.code_infos() if info.filename == "<storage-branches_and_loops>"]
    assert infos and all(info.code is not None for info in infos)
    for before, after in zip(trace.code_infos(), again.code_infos()):
        assert tuple(after.code.co_lines()) == before.line_table
        assert after.code.co_code == before.code.co_code
    graph = monviz.cfg(infos[-1].code)
    assert graph.overlay(again) is not None


def test_save_html_of_a_loaded_trace_is_the_same_report(tmp_path):
    trace = record_program("branches_and_loops")
    again = round_trip(trace, tmp_path)
    first = trace.save_html(tmp_path / "a.html").read_text()
    assert again.save_html(tmp_path / "b.html").read_text() == first


def test_a_trace_of_another_python_loads_without_code_objects(tmp_path):
    trace = record_program("recursion")
    path = trace.save(tmp_path / "t.monviz")
    _rewrite_header(path, lambda h: h.update(python="3.11.0"))
    again = monviz.load(path)
    assert all(info.code is None for info in again.code_infos())
    assert again.to_records() == trace.to_records()


def test_the_loaded_columns_are_views_of_the_file_read_not_copies(tmp_path):
    trace = monviz.record("for i in range(3000):\n    i % 7\n")
    again = round_trip(trace, tmp_path)
    buffers = {id(getattr(again._d, name).obj) for name in ("kind", "a", "depth", "jump_dest")}
    assert len(buffers) == 1


def test_save_accepts_str_and_pathlike_and_returns_the_path(tmp_path):
    trace = record_program("recursion")
    as_str = trace.save(str(tmp_path / "a.monviz"))
    assert as_str == tmp_path / "a.monviz" and isinstance(as_str, pathlib.Path)
    assert len(monviz.load(str(as_str))) == len(monviz.load(as_str)) == len(trace)


def test_saving_over_a_file_replaces_it_whole_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "t.monviz"
    small, large = record_program("recursion"), record_program("branches_and_loops")
    small.save(path)
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        large.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.monviz"]
    monkeypatch.undo()
    large.save(path)
    assert len(monviz.load(path)) == len(large)
    assert os.listdir(tmp_path) == ["t.monviz"]


def test_a_json_trace_file_loads_too(tmp_path):
    trace = record_program("recursion")
    path = tmp_path / "t.json"
    path.write_text(trace.to_json())
    assert monviz.load(path).to_records() == trace.to_records()


# -- refusals -------------------------------------------------------------------------
def _header(data: bytes) -> bytes:
    _, _, n, _ = storage._PRELUDE.unpack_from(data)
    return data[storage._PRELUDE.size:storage._PRELUDE.size + n]


def _rewrite_header(path: pathlib.Path, change) -> None:
    """Edit a file's header (its checksum made right again), keeping its sections in place."""
    data = path.read_bytes()
    magic, version, n, _ = storage._PRELUDE.unpack_from(data)
    header = json.loads(_header(data))
    change(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    start = storage._padded(storage._PRELUDE.size + n)
    assert storage._PRELUDE.size + len(text) <= start, "the new header does not fit"
    text += b" " * (start - storage._PRELUDE.size - len(text))  # JSON allows trailing space
    path.write_bytes(storage._PRELUDE.pack(magic, version, len(text), zlib.crc32(text))
                     + text + data[start:])


@pytest.fixture
def saved(tmp_path) -> pathlib.Path:
    return record_program("exceptions_through_finally", values=True).save(tmp_path / "t.monviz")


def _refused(path, error) -> str:
    with pytest.raises(error) as info:
        monviz.load(path)
    assert isinstance(info.value, TraceFileError) and isinstance(info.value, MonvizError)
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize("content", [b"", b"hello, world\n", b"\x89PNG\r\n\x1a\n" + bytes(64),
                                     b"MONVIZ", b'{"format": "something else"}'])
def test_a_file_that_is_not_a_trace_file_is_refused_as_such(content, tmp_path):
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    assert "not a monviz trace" in _refused(path, NotATraceFile)


def test_a_missing_file_or_a_directory_raises_as_open_does(tmp_path):
    with pytest.raises(FileNotFoundError):
        monviz.load(tmp_path / "missing.monviz")
    with pytest.raises(IsADirectoryError if os.name != "nt" else PermissionError):
        monviz.load(tmp_path)


def test_a_newer_format_version_asks_for_a_newer_monviz(saved):
    data = bytearray(saved.read_bytes())
    struct.pack_into("<I", data, 8, storage.VERSION + 1)
    saved.write_bytes(data)
    message = _refused(saved, TraceFileVersionError)
    assert f"version {storage.VERSION + 1}" in message
    assert f"up to {storage.VERSION}" in message and "upgrade monviz" in message


def test_an_older_or_equal_version_loads(saved):
    assert len(monviz.load(saved)) > 0


def test_a_file_cut_short_anywhere_is_refused_as_truncated(saved):
    data = saved.read_bytes()
    sections = json.loads(_header(data))["sections"]
    start = storage._padded(storage._PRELUDE.size + len(_header(data)))
    last = max(start + s["offset"] + s["nbytes"] for s in sections)
    for size in (len(storage.MAGIC) + 2, storage._PRELUDE.size + 5, start, start + 1,
                 (start + last) // 2, last - 1):
        saved.write_bytes(data[:size])
        assert "truncated" in _refused(saved, CorruptTraceFile), size


def test_a_changed_byte_in_any_section_is_found_by_its_checksum(saved):
    data = saved.read_bytes()
    header = json.loads(_header(data))
    start = storage._padded(storage._PRELUDE.size + len(_header(data)))
    damaged = [s for s in header["sections"] if s["nbytes"]]
    assert {"kind", "a", "values", "fv.texts"} <= {s["name"] for s in damaged}
    for s in damaged:
        bad = bytearray(data)
        bad[start + s["offset"] + s["nbytes"] // 2] ^= 0x10
        saved.write_bytes(bad)
        message = _refused(saved, CorruptTraceFile)
        assert f"section {s['name']!r} fails its checksum" in message


def test_a_changed_byte_in_the_header_is_found_by_its_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[storage._PRELUDE.size + 10] ^= 0x01
    saved.write_bytes(data)
    assert "header fails its checksum" in _refused(saved, CorruptTraceFile)


@pytest.mark.parametrize("change", [
    lambda h: h.pop("sections"),
    lambda h: h.update(byteorder="middle"),
    lambda h: h["sections"][0].update(type="d"),
    lambda h: h["sections"][0].update(length=h["sections"][0]["length"] + 1),
    lambda h: h["sections"][0].update(codec="lz4"),
    lambda h: h.update(kinds=None),
])
def test_a_header_that_does_not_describe_a_trace_is_refused(change, saved):
    _rewrite_header(saved, change)
    assert "does not describe a trace" in _refused(saved, CorruptTraceFile)


def test_every_loader_error_is_exported_and_a_monviz_error():
    for name in ("TraceFileError", "NotATraceFile", "TraceFileVersionError", "CorruptTraceFile"):
        assert issubclass(getattr(monviz, name), monviz.MonvizError)


def test_the_programs_cover_the_shapes_a_file_stores():
    kinds = set()
    for name in runnable(PROGRAMS, THREADED):
        kinds |= set(record_program(name).totals())
    assert {"LINE", "PY_START", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW", "RAISE",
            "CALL", "C_RETURN", "C_RAISE", "JUMP", "STOP_ITERATION"} <= kinds
