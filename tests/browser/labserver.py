"""A JupyterLab server for the browser tests (conftest.py's ``lab``) and for
benchmarks/widgets.py's Lab figures: one way to start it, so both measure the same Lab.

Every Jupyter directory points into ``home`` (nothing of the user's set-up is read or
written), the server serves ``root`` on a free port with a fixed token, news and update
checks are off, and the kernel imports this checkout's monviz (``PYTHONPATH``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(home: Path, root: Path, token: str, *, timeout: float = 90) -> Iterator[str]:
    """JupyterLab serving ``root``, its settings and log (``lab.log``) in ``home``: yields
    its base URL once ``/api/status`` answers; stopped with SIGTERM (then killed)."""
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "IPYTHONDIR": str(home / "ipython"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           # the kernel imports this checkout's monviz
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    port = free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")
    with open(home / "lab.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "JupyterLab did not start:\n" + (home / "lab.log").read_text()[-3000:]
                        ) from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shut_down(lab: dict, path: str) -> None:
    """End the lab's sessions (and kernels) of a notebook, through the REST API: a test
    that opened it in a workspace of its own leaves nothing running for the next one."""
    import json

    def call(method: str, url: str):
        request = urllib.request.Request(f"{lab['base']}{url}", method=method,
                                         headers={"Authorization": f"token {lab['token']}"})
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.read()

    for session in json.loads(call("GET", "/api/sessions")):
        if session.get("path") == path:
            call("DELETE", f"/api/sessions/{session['id']}")


def write_notebook(lab: dict, name: str, cells: list[str]) -> None:
    """A notebook of these code cells (Python 3 kernel) in the lab's root."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, lab["root"] / name)


def notebook_url(lab: dict, name: str, workspace: str | None = None) -> str:
    """The lab's URL of a notebook; with ``workspace``, opened in a workspace of its own,
    so that the default one (the other Lab tests') does not reopen it."""
    where = f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
    return f"{lab['base']}/{where}/{name}?token={lab['token']}"


def run_cell(page, index: int):
    """Run a notebook cell (click into it, Ctrl+Enter) and return its locator."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    return cell
