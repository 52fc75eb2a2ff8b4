"""Open the built site (build/lite) in headless Chromium with no network, and run monviz in it.

    .venv/bin/python tools/lite/check_site.py [--port N] [--timeout S]

Serves build/lite with ``python -m http.server`` (.venv-lite's interpreter) on 127.0.0.1,
opens lab/index.html, opens 00_start_here.ipynb from the file browser, waits for the Pyodide
kernel, then adds and runs cells at the end of the notebook:

  1. ``import monviz, sys; print(sys.version, monviz.backends.describe())``
  2. ``%load_ext monviz``
  3. a ``%%monitor --view timeline`` cell, and waits for the Timeline widget to draw
  4. what that cell recorded (a count, and the code objects most seen)
  5. ``from exercise import check`` (the notebook's folder is the kernel's cwd)
  6. ``import pytest, hypothesis``

Every request not to 127.0.0.1 is aborted and listed, as are failed requests, HTTP errors
and the page's console errors. Prints the times from ``goto`` to the kernel's ``Idle`` and to
the first ``%%monitor`` output, and saves test-artifacts/lite.png. Exits 1 on a failure.
Needs playwright (in .venv) and Debian's /usr/bin/chromium (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "lite"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK = "00_start_here.ipynb"

CELLS = [
    "import monviz, sys; print(sys.version, monviz.backends.describe())",
    "%load_ext monviz",
    "%%monitor --view timeline -o lite_trace\n"
    "def countdown(n):\n"
    "    while n > 0:\n"
    "        n -= 1\n"
    "    return 'liftoff'\n"
    "countdown(3)",
    # what was recorded: on desktop CPython this cell is ~20 events in 2 code objects
    "from collections import Counter\n"
    "print(len(lite_trace), 'events;', Counter(f'{e.code.qualname} ({e.code.filename})'\n"
    "      for e in lite_trace).most_common(6))\n"
    "print(len(monviz.record('def f(n):\\n    return n + 1\\nf(2)\\n')),\n"
    "      'events from monviz.record')",
    # the notebook's folder is the kernel's cwd (DriveFS, through the service worker)
    "from exercise import check\ncheck(1, 1, 'the hint')",
    # the test tools ship too, loaded from the site's lock on import
    "import pytest, hypothesis\nprint('pytest', pytest.__version__, 'hypothesis',"
    " hypothesis.__version__)",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    python = ROOT / ".venv-lite" / "bin" / "python"
    proc = subprocess.Popen([python, "-m", "http.server", "-b", "127.0.0.1", "-d", SITE,
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/jupyter-lite.json", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("http.server did not start")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=240, help="seconds for each wait")
    opts = ap.parse_args()
    if not (SITE / "lab" / "index.html").is_file():
        raise SystemExit(f"no site in {SITE}: run `make lite` first")
    port = opts.port or free_port()
    base = f"http://127.0.0.1:{port}"
    wait_ms = int(opts.timeout * 1000)
    aborted: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    problems: list[str] = []
    pyodide_files: list[str] = []  # seen by the route: the kernel worker's fetches are routed
    ARTIFACTS.mkdir(exist_ok=True)
    server = serve(port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def route(r):
                url = r.request.url
                if re.match(r"^https?://(127\.0\.0\.1|localhost)(:\d+)?/", url) or \
                        url.startswith(("data:", "blob:")):
                    if "/static/pyodide/" in url:
                        pyodide_files.append(url.rsplit("/", 1)[-1])
                    r.continue_()
                else:
                    aborted.append(url)
                    r.abort()

            context.route("**/*", route)
            context.on("requestfailed", lambda req: failed.append(
                f"{req.url} ({req.failure})"))
            context.on("response", lambda res: res.status >= 400 and failed.append(
                f"{res.url} (HTTP {res.status})"))
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))

            t0 = time.monotonic()
            page.goto(f"{base}/lab/index.html")
            page.locator(".jp-DirListing-item", has_text=NOTEBOOK).first.wait_for(
                timeout=wait_ms)
            t_lab = time.monotonic() - t0
            page.locator(".jp-DirListing-item", has_text=NOTEBOOK).first.dblclick()
            page.locator(".jp-NotebookPanel").wait_for(timeout=wait_ms)
            # a notebook saved with ipykernel's "python3" may ask which kernel to use
            select = page.locator(".jp-Dialog button.jp-mod-accept")
            try:
                select.wait_for(timeout=3000)
                select.click()
            except Exception:  # no dialog
                pass
            idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
            idle.wait_for(timeout=wait_ms)
            t_idle = time.monotonic() - t0
            status = page.locator("#jp-main-statusbar").inner_text().replace("\n", " ")
            print(f"lab shell (file list) after {t_lab:.1f} s; kernel idle after {t_idle:.1f} s"
                  f" ({status})")

            outputs = []
            t_monitor = None
            for i, src in enumerate(CELLS):
                # select the last cell (its prompt: no editor, no widget takes the keys),
                # insert a cell below it with the toolbar's button, type into its editor
                page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt").click()
                page.locator(".jp-NotebookPanel-toolbar "
                             "[data-command='notebook:insert-cell-below']").click()
                page.locator(".jp-Notebook .jp-Cell.jp-mod-active .jp-InputArea-editor").click()
                page.keyboard.insert_text(src)
                page.keyboard.press("Control+Enter")
                cell = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
                prompt = cell.locator(".jp-InputPrompt")
                page.wait_for_function(
                    "el => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(),
                    timeout=wait_ms)
                text = cell.locator(".jp-OutputArea").inner_text()
                outputs.append(text)
                print(f"--- cell {i + 1}: {src.splitlines()[0]}\n{text.strip()}")
                if cell.locator(".jp-OutputArea-output[data-mime-type="
                                "'application/vnd.jupyter.stderr']").count():
                    problems.append(f"cell {i + 1} wrote to stderr")
                if "Traceback" in text or "Error" in text:
                    problems.append(f"cell {i + 1} failed")
                if src.startswith("%%monitor"):
                    tl = cell.locator(".monviz-timeline").first
                    try:
                        tl.wait_for(timeout=wait_ms)
                        t_monitor = time.monotonic() - t0
                        page.wait_for_function("el => el.dataset.drawn === '1'",
                                               arg=tl.element_handle(), timeout=wait_ms)
                        legend = tl.locator(".monviz-legend-item").count()
                        step = tl.get_attribute("data-step")
                        print(f"Timeline drawn: {legend} legend items, data-step={step},"
                              f" first draw {tl.get_attribute('data-first-draw-ms')} ms")
                        tl.scroll_into_view_if_needed()
                    except Exception as err:
                        problems.append(f"no Timeline drawn: {err}")
            if t_monitor is not None:
                print(f"first %%monitor output after {t_monitor:.1f} s (from goto)")
            page.screenshot(path=str(ARTIFACTS / "lite.png"))
            print(f"screenshot: {(ARTIFACTS / 'lite.png').relative_to(ROOT)}")
            browser.close()
    finally:
        server.terminate()
        server.wait()

    print(f"static/pyodide/ files fetched (by the kernel's worker, through the route):"
          f" {len(pyodide_files)}: {' '.join(sorted(set(pyodide_files)))}")
    if not pyodide_files:
        problems.append("the route saw none of the kernel worker's requests")
    print(f"aborted (not 127.0.0.1) requests: {len(aborted)}")
    for url in aborted:
        print(f"  {url}")
    print(f"failed requests / HTTP errors: {len(failed)}")
    for f in failed:
        print(f"  {f}")
    print(f"console errors: {len(errors)}")
    for e in errors:
        print(f"  {e[:500]}")
    if problems:
        print("PROBLEMS: " + "; ".join(problems))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
