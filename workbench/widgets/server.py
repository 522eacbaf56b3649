"""The web app: the dashboard notebook served by Voilà on 127.0.0.1 only.

Voilà runs notebooks/app.ipynb in a fresh kernel for each visitor and shows only the widgets (no code
cells). The app never takes the passphrase from the environment: it asks for it in the page, so a
browser left open on a shared machine shows nothing until someone types it.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from workbench.errors import InputError, StoreError

APP_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "app.ipynb"
# A Jupyter data folder holding the page template "workbench" (Voilà's lab page, fetching nothing
# from outside the app).
TEMPLATES = Path(__file__).resolve().parent / "jupyter"
HOST = "127.0.0.1"
DEFAULT_PORT = 8866


# The page's charts are drawn by plotly.js's basic bundle, kept in the package with its licence
# (widgets/chart.py says why and how to update it). Voilà serves files under its labextension paths,
# so this folder is added to them; it holds no extension Voilà would load.
BUNDLE_FOLDER = Path(__file__).resolve().parent / "labextensions"
BUNDLE_FILE = "workbench-plotly/plotly-basic-3.7.0.min.js"
BUNDLE_SHA256 = "c23b03591a6bdad0bd0f47a0c5c52305a5519812b73ce254be65cd841553c9c2"
BUNDLE_URL = f"/voila/labextensions/{BUNDLE_FILE}"
APP_ENV = "WORKBENCH_APP"  # set in the app's kernel: charts are drawn with widgets.chart.Chart


REFILL_DELAY_S = 20
# A kernel that no page has been connected to for this long is shut down: a tab that crashed, or a
# laptop that went to sleep, never says goodbye (a closed tab does, and Voilà stops its kernel at
# once), and the kernel would otherwise hold the open store and its members' data until the app
# stops. A page still open keeps its kernel however long it sits idle. Voilà never culls the kernel
# it keeps warm for the next visitor.
ORPHANED_KERNEL_S = 600
UNUSED_EXTENSIONS = ("jupyterlab-plotly", "jupyterlab_pygments")


def command(
    port: int, notebook: Path = APP_NOTEBOOK, *, orphaned_kernel_s: int = ORPHANED_KERNEL_S
) -> list[str]:
    """The Voilà command line: loopback only, code stripped, no tracebacks, no browser opened, and a
    kernel left without a page shut down after `orphaned_kernel_s` seconds."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--no-browser",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        # One kernel is started and runs the notebook ahead of the first visit, so the page (which
        # only asks for the passphrase until then) appears at once; the next is warmed after it.
        "--VoilaConfiguration.template=workbench",
        "--VoilaConfiguration.preheat_kernel=True",
        "--VoilaConfiguration.default_pool_size=1",
        # The next kernel is warmed 20 s after a visit takes one, not 1 s: warming runs the notebook
        # (seconds of CPU), and on a 2-core laptop it slowed the visitor's own first chart by a third.
        f"--VoilaKernelManager.fill_delay={REFILL_DELAY_S}",
        # Every chart is drawn by the basic bundle served from BUNDLE_FOLDER. plotly's JupyterLab
        # renderer is a second copy of plotly.js (4.8 MB) that the page would otherwise download and
        # compile on every visit, for output the app never shows; pygments colours code, and the app
        # shows none.
        *(f"--VoilaConfiguration.extension_denylist={name}" for name in UNUSED_EXTENSIONS),
        f"--VoilaConfiguration.extra_labextensions_path={BUNDLE_FOLDER}",
        f"--MappingKernelManager.cull_idle_timeout={orphaned_kernel_s}",
        f"--MappingKernelManager.cull_interval={max(1, min(60, orphaned_kernel_s // 4))}",
        "--MappingKernelManager.cull_connected=False",
    ]


def environment(store: Path) -> dict[str, str]:
    """The app's environment: the store's absolute path, and no passphrase (the page asks for it)."""
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PASSPHRASE"}
    env["WORKBENCH_DB"] = str(Path(store).resolve())
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), env.get("JUPYTER_PATH")) if p)
    env[APP_ENV] = "1"
    return env


def check(store: Path, port: int) -> None:
    """Refuse early, with the fix, when the store is missing or the port is taken.

    Raises:
        StoreError: no store at the path.
        InputError: the port is out of range or already in use.
    """
    if not Path(store).exists():
        raise StoreError(
            f"No store at {store}. Build the demo store with: workbench demo --no-launch --db {store}"
        )
    if not APP_NOTEBOOK.exists():
        raise StoreError(
            f"The app's notebook is missing at {APP_NOTEBOOK}; run the app from the workbench's "
            "source folder (pip install -e .)."
        )
    if not 1024 <= port <= 65535:
        raise InputError(f"--port must be from 1024 to 65535; got {port}.")
    if not port_free(port):
        raise InputError(
            f"Port {port} on {HOST} is already in use. Choose another with --port, e.g. --port {port + 1}."
        )


def port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start(
    store: Path, port: int, *, quiet: bool = True, orphaned_kernel_s: int = ORPHANED_KERNEL_S
) -> subprocess.Popen:
    """Start the app in the background; the caller stops it. Use `wait_until_ready` before visiting."""
    check(Path(store), port)
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        command(port, orphaned_kernel_s=orphaned_kernel_s), env=environment(Path(store)),
        stdout=output, stderr=output, cwd=APP_NOTEBOOK.parent,
    )


def wait_until_ready(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Block until the app answers HTTP on the port.

    An answer, not only an open port: a port found free a moment ago can be taken meanwhile by
    another program (a notebook kernel's sockets, say), and a browser sent there gets no web page.

    Raises:
        StoreError: it did not start in time, or its process ended.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StoreError(f"The app stopped while starting (exit status {process.returncode}).")
        if _answers_http(port):
            return
        time.sleep(0.1)
    raise StoreError(f"The app did not start on {HOST}:{port} within {timeout:.0f} s.")


def _answers_http(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("HEAD", "/")
        connection.getresponse()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


# What stops the app in the foreground: Ctrl+C (SIGINT), `kill PID` or a service manager (SIGTERM),
# and the terminal closing (SIGHUP). Voilà runs in a session of its own, so none of them reaches it
# directly: `serve` passes each on as one SIGTERM, on which Voilà stops listening and shuts its
# kernels down, and waits for it. Left to Python's defaults, SIGTERM and SIGHUP ended `workbench app`
# alone and left Voilà and its kernels holding the port.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
# How long Voilà may take to shut its kernels down before it is killed (it takes about a second).
STOP_GRACE_S = 10.0


def serve(store: Path, port: int = DEFAULT_PORT) -> int:
    """Run the app in the foreground until Ctrl+C, SIGTERM or SIGHUP; then stop Voilà and its kernels.

    Returns:
        0 once stopped so; else Voilà's exit status, if it ended by itself.
    """
    check(Path(store), port)
    print(
        f"The workbench app is at http://{HOST}:{port}/ (this computer only). It will ask for the "
        "store's passphrase. Ctrl+C to stop.",
        flush=True,
    )
    asked: list[int] = []  # the stop signals received
    voila: subprocess.Popen | None = None

    def stop(signum: int, _frame) -> None:
        if not asked and voila is not None:
            voila.terminate()
        asked.append(signum)

    # Signal handlers can only be set from the main thread; elsewhere Python's defaults stay.
    here = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS} if here else {}
    try:
        voila = subprocess.Popen(command(port), env=environment(Path(store)), cwd=APP_NOTEBOOK.parent,
                                 start_new_session=True)
        if asked:  # a signal came while Voilà was being started
            voila.terminate()
        status = _wait(voila, asked)
        return 0 if asked else status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if voila is not None and voila.poll() is None:  # an error in this process: never leave it behind
            voila.kill()
            voila.wait()


def _wait(voila: subprocess.Popen, asked: list[int]) -> int:
    """Voilà's exit status; once a stop is asked, it is killed after STOP_GRACE_S."""
    deadline = None
    while True:
        try:
            return voila.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if asked and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_S
            if deadline is not None and time.monotonic() > deadline:
                # Its kernels were started with its process id to watch (JPY_PARENT_PID), and end
                # when it does.
                voila.kill()
                return voila.wait()


__all__ = [
    "serve",
    "start",
    "wait_until_ready",
    "free_port",
    "port_free",
    "command",
    "environment",
    "APP_ENV",
    "APP_NOTEBOOK",
    "BUNDLE_FOLDER",
    "BUNDLE_URL",
    "HOST",
]
