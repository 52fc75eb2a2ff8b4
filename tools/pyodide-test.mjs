// Node.js side of tools/pyodide-test: load Pyodide from local files, mount the work tree,
// install the cached wheels, run pytest (or a script) inside, exit with its status.
//
// node tools/pyodide-test.mjs --root DIR --package DIR --wheels DIR --mode pytest|script -- ARGS
//
// Nothing is fetched: Pyodide's own files come from --package (the unpacked npm tarball),
// the wheels from --wheels (unpacked into Pyodide's in-memory site-packages). The work tree
// is mounted at its own path with NODEFS, so paths in tracebacks are the host's; bytecode
// is not written and Hypothesis keeps its database in memory, so nothing is left there.
// Environment variables named MONVIZ_* and CI are passed through.

import path from "node:path";
import { pathToFileURL } from "node:url";

function parse(argv) {
  const opts = {};
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i += 2) opts[argv[i].slice(2)] = argv[i + 1];
  opts.args = argv.slice(i + 1);
  for (const key of ["root", "package", "wheels", "mode"]) {
    if (!opts[key]) throw new Error(`pyodide-test.mjs: --${key} is required`);
  }
  return opts;
}

const opts = parse(process.argv.slice(2));
const { loadPyodide } = await import(pathToFileURL(path.join(opts.package, "pyodide.mjs")).href);

const env = { HOME: "/home/pyodide", HYPOTHESIS_STORAGE_DIRECTORY: "/tmp/.hypothesis" };
for (const [key, value] of Object.entries(process.env)) {
  if (key.startsWith("MONVIZ_") || key === "CI") env[key] = value;
}

const started = Date.now();
const pyodide = await loadPyodide({ indexURL: opts.package + path.sep, env });
const raw = (stream) => ({ write: (buf) => { stream.write(buf); return buf.length; } });
pyodide.setStdout(raw(process.stdout));
pyodide.setStderr(raw(process.stderr));
pyodide.FS.mkdirTree(opts.root);
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: opts.root }, opts.root);
if (path.relative(opts.root, opts.wheels).startsWith("..")) {
  pyodide.FS.mkdirTree(opts.wheels);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: opts.wheels }, opts.wheels);
}
const loadSeconds = (Date.now() - started) / 1000;

const main = pyodide.runPython(`
import os, sys, sysconfig, zipfile, importlib

def main(root, wheels, mode, args, load_seconds):
    sys.dont_write_bytecode = True   # no cpython-314 .pyc from WebAssembly in the work tree
    site = sysconfig.get_path("purelib")
    for name in sorted(os.listdir(wheels)):
        if name.endswith(".whl"):
            with zipfile.ZipFile(os.path.join(wheels, name)) as whl:
                whl.extractall(site)
    importlib.invalidate_caches()
    os.chdir(root)
    sys.path.insert(0, root)         # monviz from the work tree, not installed
    import monviz
    from monviz import versions
    import pyodide
    print(f"pyodide-test: Python {sys.version.split()[0]} on {versions.PLATFORM} "
          f"(Pyodide {pyodide.__version__}, loaded in {load_seconds:.1f} s); "
          f"threads: {versions.HAS_THREADS}, "
          f"subprocesses: {versions.HAS_SUBPROCESSES}; monviz backend: "
          f"{monviz.backends.describe()}", flush=True)
    if mode == "script":
        import runpy
        script = os.path.abspath(args[0])
        sys.argv = [script, *args[1:]]
        sys.path.insert(0, os.path.dirname(script))
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0
    import pytest

    class Counts:
        stats = None

        @pytest.hookimpl(trylast=True)
        def pytest_terminal_summary(self, terminalreporter):
            self.stats = {k: len(v) for k, v in terminalreporter.stats.items() if k}

    counts = Counts()
    sys.argv = ["pytest", *args]
    status = int(pytest.main(["-p", "no:cacheprovider", *args], plugins=[counts]))
    s = counts.stats or {}
    print(f"pyodide-test: Python {sys.version.split()[0]} on {sys.platform}: "
          f"{s.get('passed', 0)} passed, {s.get('skipped', 0)} skipped, "
          f"{s.get('failed', 0)} failed, {s.get('error', 0)} errors"
          + "".join(f", {s[k]} {k}" for k in ("xfailed", "xpassed", "deselected") if s.get(k))
          + f" (exit {status})", flush=True)
    return status

main
`);

let status;
try {
  // callPromising: with JSPI (node --experimental-wasm-stack-switching, which
  // tools/pyodide-test passes) the tests' asyncio.run() can wait on Pyodide's WebLoop
  status = await main.callPromising(opts.root, opts.wheels, opts.mode,
                                    pyodide.toPy(opts.args), loadSeconds);
} catch (err) {
  // a PythonError's message is the traceback; never print Pyodide's minified source
  process.stderr.write(`pyodide-test.mjs: ${err && err.message ? err.message : err}\n`);
  status = 1;
}
process.exit(status);
