"""Print an HTML page to an A4 PDF with the headless Chromium Debian installs (`apt-get install chromium`).

The page is written to a private temporary folder (mode 0700; in memory under /dev/shm where the
system has it), printed there with a throw-away browser profile, read back, and the folder is
removed, so nothing of the page is left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from workbench import exports
from workbench.errors import WorkbenchError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 120  # seconds: a long list takes a few; more means the browser is stuck
INSTALL = "apt-get install chromium"


class PrintError(WorkbenchError, RuntimeError):
    """The page could not be printed to PDF (no Chromium, or it failed)."""


def browser() -> str:
    """The path of the installed Chromium.

    Raises:
        PrintError: none is installed (the message names the command that installs it).
    """
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        raise PrintError(
            f"PDF needs Chromium, which is not installed. Install it with `{INSTALL}` (Debian/Ubuntu), "
            "or choose another format (the protected .xlsx needs nothing extra)."
        )
    return found


def _private_folder() -> tempfile.TemporaryDirectory:
    # Memory-backed; the folder itself is private (0700, random name).
    shm = Path("/dev/shm")  # noqa: S108  # nosec B108
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix="workbench-print-", dir=base)


def print_pdf(html: str, then: Callable[[Path], bytes]) -> bytes:
    """Print `html` to an A4 PDF and hand the PDF's path to `then` before the folder goes.

    Args:
        html: the whole page (its own CSS sets A4 and margins).
        then: reads or transforms the PDF (e.g. encrypts it) and returns the bytes to keep.

    Returns:
        What `then` returned.

    Raises:
        PrintError: no Chromium, or it failed or timed out.
    """
    chromium = browser()
    with _private_folder() as folder:
        page, pdf = Path(folder) / "page.html", Path(folder) / "page.pdf"
        exports.write_text(page, html)
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            f"--user-data-dir={Path(folder) / 'profile'}", f"--print-to-pdf={pdf}", page.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            raise PrintError(
                f"Chromium could not print the page to PDF ({type(error).__name__}). Try again; if it "
                f"keeps failing, reinstall it (`{INSTALL}`) or choose the .xlsx format."
            ) from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise PrintError("Chromium printed nothing. Try again, or choose the .xlsx format.")
        return then(pdf)


__all__ = ["PrintError", "browser", "print_pdf"]
