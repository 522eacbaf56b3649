"""Stopping `workbench app` stops Voilà and its kernels, so the port is free to start it again.

Nothing is mocked: `workbench app` runs as a subprocess on a free loopback port over a copy of the
tiny synthetic store, with no passphrase in its environment (the page asks for it), as `make app`
runs it. The processes it starts are read from /proc; every one is killed by its id afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.widgets import server

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended while we looked
                continue
            found[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def _descendants(pid: int) -> dict[int, bytes]:
    """Every process below `pid`, with its command line."""
    parents, found, todo = _parents(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = _cmdline(child)
                todo.append(child)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _running(pid: int, cmdline: bytes) -> bool:
    """The process is there (not a zombie) and is still the one we saw."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _cmdline(pid) == cmdline


def _words(cmdline: bytes) -> str:
    return " ".join(part.decode(errors="replace") for part in cmdline.split(b"\0")[1:4])


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# How each signal reaches the app: `kill PID` sends SIGTERM to it alone; Ctrl+C and a terminal closing
# send SIGINT and SIGHUP to the whole job, its process group.
@pytest.mark.parametrize(("stop", "to_group"), [(signal.SIGTERM, False), (signal.SIGINT, True),
                                                 (signal.SIGHUP, True), (signal.SIGINT, False)],
                         ids=["SIGTERM", "Ctrl+C", "SIGHUP", "SIGINT-to-the-app-alone"])
def test_a_stop_signal_stops_voila_and_its_kernels_and_frees_the_port(synthetic_store, stop, to_group):
    port = server.free_port()
    env = {**os.environ, "WORKBENCH_PASSPHRASE": ""}
    app = subprocess.Popen([sys.executable, "-m", "workbench", "app", "--db", str(synthetic_store), "--port",
                            str(port)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)  # a job of its own
    started: dict[int, bytes] = {}
    try:
        server.wait_until_ready(port, timeout=90, process=app)
        deadline = time.monotonic() + 90
        while not any(b"ipykernel" in line for line in started.values()):  # the kernel warmed ahead
            assert time.monotonic() < deadline, "no kernel was started ahead of the first visit"
            assert app.poll() is None
            started = _descendants(app.pid)
            time.sleep(0.2)
        assert any(b"voila" in line for line in started.values())

        if to_group:
            os.killpg(app.pid, stop)
        else:
            app.send_signal(stop)

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            left = {pid: line for pid, line in started.items() if _running(pid, line)}
            if app.poll() is not None and not left and server.port_free(port):
                break
            time.sleep(0.2)
        assert app.poll() == 0, "workbench app did not exit within 15 s, or not cleanly"
        assert not left, f"still running: {[_words(line) for line in left.values()]}"
        assert server.port_free(port), f"port {port} is still in use"
    finally:
        for pid, line in started.items():
            if _running(pid, line):
                _kill(pid)
        if app.poll() is None:
            _kill(app.pid)
            app.wait()
