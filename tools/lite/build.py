"""Build the offline JupyterLite site of the tutorials: ``make lite`` (see tools/lite/README.md).

Run with any CPython >= 3.12 (``tools/find-python``); uses only the standard library, and
does its work in these places:

  .venv-lite/         the build tools (pyproject.toml, extra ``lite``), made when missing or
                      when that list or the interpreter changed
  .cache/lite/        downloads, kept between runs: the npm ``pyodide`` tarball and the wheels
                      of tools/lite/pins.toml, each checked by hash; the pure monviz wheel,
                      rebuilt only when monviz's sources change
  build/lite-src/     the ``--lite-dir``: jupyter-lite.json, static/pyodide/ (Pyodide, the
                      wheels and the lock written for them) and files/ (the tutorials)
  build/lite/         the site (``jupyter lite build --output-dir``)

Nothing is fetched from the network once .venv-lite and .cache/lite/ are complete, and the
site fetches nothing but itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV = ROOT / ".venv-lite"
CACHE = ROOT / ".cache" / "lite"
SRC = ROOT / "build" / "lite-src"
OUT = ROOT / "build" / "lite"
TUTORIALS = ROOT / "tutorials"

# Files of tutorials/ the site leaves out (nbval's configuration is for the test run).
TUTORIAL_SKIP = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|\.[^/]*)(/|$)|\.pyc$"
                           r"|^nbval_sanitize\.cfg$")
# The labextensions the site must have, no more: the kernel, ipywidgets' manager, anywidget.
EXPECTED_EXTENSIONS = {"@jupyterlite/pyodide-kernel-extension",
                       "@jupyter-widgets/jupyterlab-manager", "anywidget"}
KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
# The machine's pip config may add file:// indexes that make pip print one harmless
# "WARNING: Location '...' is ignored" line each; they are dropped from pip's output.
PIP_NOISE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory")

T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"lite [{time.monotonic() - T0:5.1f}s] {msg}", flush=True)


def die(msg: str) -> None:
    print(f"lite: error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def run(cmd: list, *, cwd: Path | None = None, env: dict | None = None,
        quiet: bool = False) -> str:
    """Run *cmd*, dropping pip's noise lines; its output is echoed unless *quiet* (then shown
    only when it fails). Returns the output."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    out = "".join(line for line in proc.stdout.splitlines(keepends=True)
                  if not PIP_NOISE.match(line))
    if proc.returncode or not quiet:
        sys.stdout.write(out)
        sys.stdout.flush()
    if proc.returncode:
        die(f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}")
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sri_sha512(path: Path) -> str:
    h = hashlib.sha512()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write *data* to *path* unless it already holds exactly that (keeps mtimes, so the
    incremental ``jupyter lite build`` has nothing to redo)."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def sync_tree(files: dict[str, Path | bytes], dest: Path) -> int:
    """Make *dest* hold exactly *files* (relative path -> source file or bytes); returns how
    many files were written or removed."""
    changed = 0
    for rel, src in files.items():
        target = dest / rel
        if isinstance(src, bytes):
            changed += write_if_changed(target, src)
        elif not (target.is_file() and target.stat().st_size == src.stat().st_size
                  and sha256(target) == sha256(src)):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            changed += 1
    if dest.is_dir():
        for path in sorted(dest.rglob("*"), reverse=True):
            rel = path.relative_to(dest).as_posix()
            if path.is_file() and rel not in files:
                path.unlink()
                changed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return changed


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    raise AssertionError


# -- 1. the build venv ---------------------------------------------------------------------
def venv_python() -> Path:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = pyproject["project"]["optional-dependencies"]["lite"]
    want = json.dumps({"python": ".".join(map(str, sys.version_info[:3])),
                       "requirements": reqs}, indent=1)
    python = VENV / "bin" / "python"
    stamp = VENV / ".stamp"
    runs = python.exists() and subprocess.run(
        [python, "-c", "pass"], capture_output=True, check=False).returncode == 0
    if runs and stamp.is_file() and stamp.read_text() == want:
        say(f"build tools: {VENV.name} is up to date")
        return python
    if not runs or not stamp.is_file() or json.loads(stamp.read_text())["python"] != \
            json.loads(want)["python"]:
        say(f"build tools: creating {VENV.name} with Python {sys.version.split()[0]}"
            f" ({sys.executable})")
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, "-m", "venv", VENV])
    say(f"build tools: installing into {VENV.name}: {', '.join(reqs)}")
    req_file = VENV / ".requirements"
    req_file.write_text("\n".join(reqs) + "\n")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([python, "-m", "pip", "install", "-q", "-r", req_file], env=env)
    stamp.write_text(want)
    return python


# -- 2. Pyodide from npm ---------------------------------------------------------------------
def pyodide_files(pins: dict) -> dict[str, Path]:
    pin = pins["pyodide"]
    version = pin["version"]
    tgz = CACHE / f"pyodide-{version}.tgz"
    if tgz.is_file() and sri_sha512(tgz) == pin["integrity"]:
        say(f"pyodide {version}: cached {tgz.relative_to(ROOT)}")
    else:
        say(f"pyodide {version}: npm pack pyodide@{version}")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            # npm checks the tarball against the registry's dist.integrity itself
            run(["npm", "pack", f"pyodide@{version}", "--pack-destination", tmp, "--silent"],
                quiet=True)
            got = Path(tmp) / tgz.name
            if not got.is_file():
                die(f"npm pack made no {tgz.name} in {tmp}: {os.listdir(tmp)}")
            if (sri := sri_sha512(got)) != pin["integrity"]:
                die(f"{tgz.name}: integrity {sri} is not the pinned {pin['integrity']}"
                    " (tools/lite/pins.toml)")
            got.replace(tgz)
    unpacked = CACHE / f"pyodide-{version}"
    marker = unpacked / ".integrity"
    if not (marker.is_file() and marker.read_text() == pin["integrity"]):
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        with tarfile.open(tgz) as tar:
            for name in pin["files"]:
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    die(f"{tgz.name} has no package/{name}")
                (unpacked / name).write_bytes(member.read())
        marker.write_text(pin["integrity"])
    info = json.loads((unpacked / "pyodide-lock.json").read_text())["info"]
    if info.get("python") != pin["python"]:
        die(f"pyodide {version} runs Python {info.get('python')}, not the pinned {pin['python']}")
    return {name: unpacked / name for name in pin["files"]}


# -- 3. the pinned wheels from PyPI ----------------------------------------------------------
def wheel_name_version(file: str) -> tuple[str, str]:
    name, version = file.split("-")[:2]
    return name, version


def pinned_wheels(pins: dict, python: Path) -> dict[str, Path]:
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = {key: pin for key, pin in pins["wheels"].items()
               if not ((wheels / pin["file"]).is_file()
                       and sha256(wheels / pin["file"]) == pin["sha256"])}
    if missing:
        say(f"wheels: pip download {len(missing)} of {len(pins['wheels'])} from PyPI"
            f" ({', '.join(missing)})")
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(
                f"{wheel_name_version(p['file'])[0]}=={wheel_name_version(p['file'])[1]}"
                f" --hash=sha256:{p['sha256']}\n" for p in missing.values()))
            dl = Path(tmp) / "dl"
            run([python, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
                 "--only-binary=:all:", "--platform", "any", "--implementation", "py",
                 "--abi", "none", "--python-version", "3.14", "-d", dl, "-r", req],
                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, quiet=True)
            for key, pin in missing.items():
                got = dl / pin["file"]
                if not got.is_file():
                    die(f"wheels: pip did not download {pin['file']} for {key}"
                        f" (got: {sorted(p.name for p in dl.iterdir())})")
                if sha256(got) != pin["sha256"]:  # pip checked it too
                    die(f"wheels: {pin['file']} does not have the pinned sha256")
                got.replace(wheels / pin["file"])
    else:
        say(f"wheels: {len(pins['wheels'])} pinned wheels cached in {wheels.relative_to(ROOT)}")
    return {key: wheels / pin["file"] for key, pin in pins["wheels"].items()}


# -- 4. monviz, pure Python, from the working tree -------------------------------------------
def monviz_sources() -> list[Path]:
    files = [ROOT / "pyproject.toml", ROOT / "setup.py"]
    for path in sorted((ROOT / "monviz").rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not re.search(r"__pycache__|\.pyc$|\.so$|\.pyd$", rel):
            files.append(path)
    return files


def monviz_wheel(python: Path) -> Path:
    sources = monviz_sources()
    h = hashlib.sha256()
    for path in sources:
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    key = h.hexdigest()[:16]
    out = CACHE / "monviz"
    stamp = out / ".sources"
    built = sorted(out.glob("monviz-*.whl"))
    if len(built) == 1 and stamp.is_file() and stamp.read_text() == key:
        say(f"monviz: wheel up to date ({built[0].name}, sources {key})")
        return built[0]
    say(f"monviz: building a pure-Python wheel from the working tree (sources {key})")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        # A copy of the sources: setuptools writes build/ and *.egg-info next to them, which
        # must not race the editable installs (`make setup`) in the work tree.
        tree = Path(tmp) / "src"
        for path in sources:
            dest = tree / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        dist = Path(tmp) / "dist"
        env = {**os.environ, "MONVIZ_PURE_PYTHON_BUILD": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
             "-w", dist, tree], env=env, quiet=True)
        wheels = sorted(dist.glob("*.whl"))
        if len(wheels) != 1 or not wheels[0].name.endswith("-py3-none-any.whl"):
            die(f"monviz: expected one py3-none-any wheel, got {[w.name for w in wheels]}")
        with zipfile.ZipFile(wheels[0]) as zf:
            names = zf.namelist()
        binaries = [n for n in names if re.search(r"\.(so|pyd|dylib)$", n)]
        if binaries:
            die(f"monviz: the pure wheel holds binaries: {binaries}")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        wheel = out / wheels[0].name
        wheels[0].replace(wheel)
    stamp.write_text(key)
    viz = "with" if "monviz/widgets/vendor/viz.js" in names else "without"
    say(f"monviz: {wheel.name} ({human(wheel.stat().st_size)}, {len(names)} files,"
        f" {viz} widgets/vendor/viz.js)")
    if viz == "without":
        say("monviz: note: there is no monviz/widgets/vendor/viz.js (tools/fetch-viz fetches"
            " it), so the wheel is built without it")
    return wheel


# -- 5. pyodide-lock.json for exactly these wheels -------------------------------------------
def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_lock(upstream_lock: Path, pins: dict, wheels: dict[str, Path],
               monviz: Path) -> bytes:
    upstream = json.loads(upstream_lock.read_text())
    packages = {}
    for key, pin in pins["wheels"].items():
        base = upstream["packages"].get(key)
        if base is None and ("imports" not in pin or "depends" not in pin):
            die(f"lock: {key} is not in Pyodide's lock, so tools/lite/pins.toml must give its"
                " imports and depends")
        version = wheel_name_version(pin["file"])[1]
        if base is not None and normalize(base["version"]) != normalize(version):
            say(f"lock: note: {key} {version} replaces Pyodide's {base['version']}")
        packages[key] = {
            "name": base["name"] if base else key,
            "version": version,
            "file_name": pin["file"],
            "install_dir": "site",
            "sha256": sha256(wheels[key]),
            "package_type": "package",
            "imports": pin.get("imports", base and base["imports"]),
            "depends": pin.get("depends", base and base["depends"]),
            "unvendored_tests": False,
        }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = [normalize(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0])
            for d in pyproject["project"]["dependencies"]]
    packages["monviz"] = {
        "name": "monviz", "version": wheel_name_version(monviz.name)[1],
        "file_name": monviz.name, "install_dir": "site", "sha256": sha256(monviz),
        "package_type": "package", "imports": ["monviz"], "depends": deps,
        "unvendored_tests": False,
    }
    # every dependency must be in the lock: Pyodide would otherwise fail at load time
    known = {normalize(k) for k in packages}
    for key, entry in packages.items():
        lost = [d for d in entry["depends"] if normalize(d) not in known]
        if lost:
            die(f"lock: {key} depends on {lost}, which the site does not ship"
                " (add them to tools/lite/pins.toml)")
    lock = {"info": upstream["info"], "packages": dict(sorted(packages.items()))}
    return (json.dumps(lock, indent=1, sort_keys=False) + "\n").encode()


# -- 6. the lite dir -------------------------------------------------------------------------
def lite_config(pins: dict) -> bytes:
    config = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "litePluginSettings": {
                KERNEL_SETTINGS: {
                    "pyodideUrl": "./static/pyodide/pyodide.mjs",
                    # piplite (and %pip) never go to pypi.org: the site has what it needs
                    "disablePyPIFallback": True,
                    # loaded with Pyodide, before the first cell: `%load_ext monviz` and
                    # `from exercise import check` show no import Pyodide could auto-load
                    "loadPyodideOptions": {"packages": ["micropip", "monviz"]},
                },
            },
        },
    }
    return (json.dumps(config, indent=2) + "\n").encode()


def build_config() -> bytes:
    """jupyter_lite_config.json: the labextensions are named, not found in .venv-lite's
    sys.prefix, which also holds ones the site does not want (jupyterlab_pygments, from
    jupyter_server's nbconvert). Each is the folder its pinned wheel installed."""
    share = VENV / "share" / "jupyter" / "labextensions"
    folders = [share / name for name in sorted(EXPECTED_EXTENSIONS)]
    for folder in folders:
        if not (folder / "package.json").is_file():
            die(f"no labextension {folder.relative_to(ROOT)} (pyproject.toml, extra `lite`)")
    config = {"LiteBuildConfig": {
        "ignore_sys_prefix": ["federated_extensions"],
        "federated_extensions": [str(f) for f in folders],
        # the apps' and extensions' *.map files are half the site (~49 of 92 MB)
        "no_sourcemaps": True,
    }}
    return (json.dumps(config, indent=2) + "\n").encode()


def tutorial_files() -> dict[str, Path]:
    files = {}
    for path in sorted(TUTORIALS.rglob("*")):
        rel = path.relative_to(TUTORIALS).as_posix()
        if path.is_file() and not TUTORIAL_SKIP.search(rel):
            files[rel] = path
    return files


# -- 7. checks on the built site ------------------------------------------------------------
def check_site(pins: dict, site: Path) -> None:
    config = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    exts = {e["name"]: e for e in config.get("federated_extensions", [])}
    if set(exts) != EXPECTED_EXTENSIONS:
        die(f"site: labextensions {sorted(exts)}, expected {sorted(EXPECTED_EXTENSIONS)}"
            f" (is {VENV.name} clean?)")
    pkg = json.loads((site / "extensions" / "anywidget" / "package.json").read_text())
    wheel_version = wheel_name_version(pins["wheels"]["anywidget"]["file"])[1]
    if pkg["version"].split(".")[:2] != wheel_version.split(".")[:2]:
        die(f"site: anywidget labextension {pkg['version']} does not match the wheel"
            f" {wheel_version}: widgets would fail with 'module anywidget is not registered'")
    kernel = config["litePluginSettings"][KERNEL_SETTINGS]
    if kernel.get("pyodideUrl") != "./static/pyodide/pyodide.mjs" or \
            not kernel.get("disablePyPIFallback"):
        die(f"site: unexpected kernel settings {kernel}")
    for name in pins["pyodide"]["files"]:
        if not (site / "static" / "pyodide" / name).is_file():
            die(f"site: static/pyodide/{name} is missing")
    versions = {n: json.loads((site / "extensions" / n / "package.json").read_text())["version"]
                for n in sorted(exts)}
    say("site: labextensions " + ", ".join(f"{n} {v}" for n, v in versions.items()))


def main() -> None:
    pins = tomllib.loads((HERE / "pins.toml").read_text())
    python = venv_python()
    core = pyodide_files(pins)
    wheels = pinned_wheels(pins, python)
    monviz = monviz_wheel(python)

    static = {name: path for name, path in core.items() if name != "pyodide-lock.json"}
    static.update({path.name: path for path in wheels.values()})
    static[monviz.name] = monviz
    static["pyodide-lock.json"] = write_lock(core["pyodide-lock.json"], pins, wheels, monviz)
    n = sync_tree(static, SRC / "static" / "pyodide")
    say(f"lite dir: static/pyodide/ has {len(static)} files ({n} changed)")
    write_if_changed(SRC / "jupyter-lite.json", lite_config(pins))
    write_if_changed(SRC / "jupyter_lite_config.json", build_config())
    contents = tutorial_files()
    n = sync_tree(contents, SRC / "files")
    say(f"lite dir: files/ has {len(contents)} tutorial files ({n} changed)")

    # A fresh build each time (~10 s), into a new folder that then replaces the site: doit's
    # up-to-date database (in the lite dir) knows nothing of a removed or half-built output
    # folder, and would skip the tasks that write jupyter-lite.json. A server running on
    # build/lite (`make serve-lite`) keeps serving, the new site from then on.
    say(f"jupyter lite build -> {OUT.relative_to(ROOT)}")
    new = OUT.with_name(OUT.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    for db in SRC.glob(".jupyterlite.doit.db*"):
        db.unlink()
    jupyter = VENV / "bin" / "jupyter"
    out = run([jupyter, "lite", "build", "--lite-dir", SRC, "--output-dir", new,
               "--contents", SRC / "files"], cwd=SRC, quiet=True)
    done = [line for line in out.splitlines() if line.startswith(".")]
    say(f"jupyter lite build: {len(done)} tasks run")
    check_site(pins, new)
    old = OUT.with_name(OUT.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if OUT.exists():
        OUT.rename(old)
    new.rename(OUT)
    shutil.rmtree(old, ignore_errors=True)

    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    count = sum(1 for p in OUT.rglob("*") if p.is_file())
    say(f"done: {OUT.relative_to(ROOT)}/ is {human(size)} in {count} files")
    print(f"serve it with `make serve-lite` (PORT=8000), or\n"
          f"  python3 -m http.server -d {OUT.relative_to(ROOT)} 8000\n"
          f"and open http://127.0.0.1:8000/lab/index.html (http://, not file://: the"
          f" notebooks' files need the service worker)")


if __name__ == "__main__":
    main()
