"""Building and shipping monviz: the optional C extension, its stable ABI, the backend warning.

The build tests build wheels from a copy of the sources in tmp_path (pip wheel
--no-build-isolation, with the setuptools of the dev extra), never in the work tree:
the in-place monviz/_speedups.abi3.so and monviz.egg-info/ stay as they are, and
the ``work_tree_untouched`` fixture checks that they do.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import warnings
import zipfile
from pathlib import Path

import pytest

import monviz
from monviz import backends

ROOT = Path(__file__).resolve().parent.parent
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
SO_SUFFIXES = (".so", ".pyd", ".dylib")

# Run in a subprocess against an unpacked wheel: where monviz came from, and how it records.
PROBE = """\
import json, sys, warnings
import monviz
from monviz import backends
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    first = monviz.record("x = 1", events=["PY_START", "LINE"])
    monviz.record("y = 2")
print(json.dumps({
    "monviz": monviz.__file__,
    "speedups": getattr(backends.speedups, "__file__", None),
    "backend": monviz.backend(),
    "events": [ev.event for ev in first],
    "warnings": [w.category.__name__ for w in caught],
}))
"""


def _copy_sources(tmp_path: Path) -> Path:
    """What a build reads, without anything built: pyproject.toml, setup.py, monviz/."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "monviz", src / "monviz",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    return src


def _build_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONVIZ_PURE_PYTHON_BUILD", backends.PURE_ENV, "PYTHONPATH")}
    env.update(changes)
    return env


def _build_wheel(tmp_path: Path, **env: str) -> tuple[Path, str]:
    """Build a wheel from a copy of the sources; return it and pip's verbose log."""
    src = _copy_sources(tmp_path)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-v", "-w", str(out), str(src)],
        cwd=src, env=_build_env(**env), capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"pip wheel failed:\n{log[-4000:]}"
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, (wheels, log[-2000:])
    return wheels[0], log


def _probe(wheel: Path, tmp_path: Path) -> dict:
    """Unpack the wheel, import monviz from it in a fresh interpreter, record twice."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    # -S: no site module, so no .pth file runs, such as the hook of an editable install of
    # monviz (it would answer for monviz._speedups from the work tree); the dependencies come
    # from site-packages, on PYTHONPATH after the unpacked wheel.
    paths = sysconfig.get_paths()
    path = os.pathsep.join(dict.fromkeys([str(site), paths["purelib"], paths["platlib"]]))
    proc = subprocess.run(
        [sys.executable, "-S", "-c", PROBE], cwd=tmp_path, env=_build_env(PYTHONPATH=path),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The unpacked wheel's monviz, not the work tree's.
    assert Path(result["monviz"]).is_relative_to(site), result
    return result


def _why_no_compiler() -> str | None:
    """Why this interpreter cannot build a C extension here, or None when it can."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = shlex.split(cc)[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}) on this machine"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return f"no Python headers ({include}/Python.h) for this interpreter"
    return None


@pytest.fixture
def work_tree_untouched():
    """Fail if a build touched the work tree's own build output."""

    def snapshot():
        paths = [ROOT / "build", *ROOT.glob("monviz/*.so"), *ROOT.glob("*.egg-info/*")]
        return {p: (st.st_ino, st.st_mtime_ns, st.st_size)
                for p in paths if p.exists() and (st := p.stat())}

    before = snapshot()
    yield
    assert snapshot() == before, "a build wrote into the work tree"


@pytest.mark.slow
def test_without_a_compiler_the_build_succeeds_with_no_extension(tmp_path, work_tree_untouched):
    wheel, log = _build_wheel(tmp_path, CC="/nonexistent/cc")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name  # no binary: a pure wheel
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "monviz/recorder.py" in names
    assert not [n for n in names if n.endswith(SO_SUFFIXES)], names
    if not FREE_THREADED:
        # The build did try, with the compiler it was given, and went on without the extension.
        assert "/nonexistent/cc" in log
        assert 'building extension "monviz._speedups" failed' in log

    # Installed like this, monviz records with the pure-Python backend and says so once.
    result = _probe(wheel, tmp_path)
    assert result["speedups"] is None
    assert result["backend"] == backends.PYTHON
    assert result["events"] == ["PY_START", "LINE"]
    assert result["warnings"] == ["PurePythonBackendWarning"]


@pytest.mark.slow
def test_with_a_compiler_the_extension_is_abi3_and_imports(tmp_path, work_tree_untouched):
    if FREE_THREADED:
        pytest.skip("free-threaded builds get no extension (the stable ABI does not exist there)")
    if why := _why_no_compiler():
        pytest.skip(f"cannot build the extension here: {why}")
    wheel, _ = _build_wheel(tmp_path)
    # One binary for CPython 3.12 and later: the stable ABI of 3.12.
    assert "-cp312-abi3-" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as zf:
        binaries = [n for n in zf.namelist() if n.endswith(SO_SUFFIXES)]
    assert binaries == ["monviz/_speedups.abi3.so"], binaries

    result = _probe(wheel, tmp_path)
    assert result["speedups"] is not None
    assert Path(result["speedups"]).name == "_speedups.abi3.so"
    assert Path(result["speedups"]).is_relative_to(tmp_path / "site")
    assert result["backend"] == backends.COMPILED
    assert result["events"] == ["PY_START", "LINE"]
    assert result["warnings"] == []


def _pure_python_warnings(caught) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, backends.PurePythonBackendWarning)]


@pytest.fixture
def no_extension(monkeypatch):
    """monviz as if monviz._speedups could not be imported, and nothing said about it yet."""
    monkeypatch.setattr(backends, "speedups", None)
    monkeypatch.setattr(backends, "why_not", "monviz._speedups could not be imported (test)")
    monkeypatch.setattr(backends, "_told", False)
    monkeypatch.delenv(backends.PURE_ENV, raising=False)


@pytest.mark.parametrize("env_value", [None, "", "0"])
def test_without_the_extension_monviz_warns_once(no_extension, monkeypatch, env_value):
    if env_value is not None:
        monkeypatch.setenv(backends.PURE_ENV, env_value)   # "" and "0" do not ask for it
    assert monviz.backend() == backends.PYTHON
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = monviz.record("x = 1", events=["LINE"])
        monviz.record("y = 2")
        with monviz.Recorder():
            pass
        backends.tell_once()
    assert [ev.event for ev in trace] == ["LINE"]
    hits = _pure_python_warnings(caught)
    assert len(hits) == 1, [str(w.message) for w in caught]
    message = str(hits[0].message)
    assert "pure-Python backend" in message
    assert "monviz._speedups could not be imported (test)" in message
    assert f"{backends.PURE_ENV}=1" in message


def test_with_pure_python_asked_for_monviz_does_not_warn(no_extension, monkeypatch):
    monkeypatch.setenv(backends.PURE_ENV, "1")
    assert monviz.backend() == backends.PYTHON
    assert backends.describe() == f"python ({backends.PURE_ENV} is set)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monviz.record("x = 1")
        backends.tell_once()
    assert _pure_python_warnings(caught) == []
    assert backends._told is False    # unset it later, and the first recording still says why


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="checks CI's build: CI=true only")
def test_ci_records_with_the_compiled_backend():
    # The same check as `make test` prints per interpreter ("== backend on Python ...").
    if FREE_THREADED or not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("free-threaded Python: always the pure-Python backend")
    assert backends.speedups is not None, backends.why_not
    if not backends.forced_pure():
        assert monviz.backend() == backends.COMPILED, backends.describe()
