"""What a file is, by its content, and the one export inside a zip.

A UTF-8 or UTF-16 byte-order mark means text whatever the name (VAN's ".xls" download is UTF-16
tab-separated text); a zip is either a workbook or an archive holding one export, which is copied
to a private folder to be read; an Excel 97 or password-protected workbook is refused with what
to do instead. The name decides only where the bytes leave it open.
"""

from __future__ import annotations

import codecs
import contextlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import limits

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xls": "csv",  # only as text (VAN's download); a binary Excel 97 workbook is refused
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".zip": "zip",
}
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97 workbooks, and password-protected .xlsx
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
CHUNK = 8 * 1024 * 1024


def file_format(path: Path) -> str:
    """csv | xlsx | parquet | zip, from the file name (the content may still say text; see `stage`).

    Raises:
        InputError: an extension the workbench does not read.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = " Save it from Excel as .xlsx or CSV." if path.suffix.lower() in (".ods", ".numbers") else ""
        raise InputError(
            f"Unsupported file extension: '{path.suffix or '(none)'}' ({path.name}). "
            f"Supported formats: .csv, .tsv, .txt, .xls (as text), .parquet, .xlsx, .zip (holding one "
            f"of these).{hint}"
        )
    return fmt


def content_format(path: Path, named: str) -> str:
    """csv | xlsx | parquet | zip: what the bytes say the file is; the name decides only where the
    bytes leave it open.

    Raises:
        InputError: an Excel 97 or password-protected workbook, or bytes that contradict the name.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        return "xlsx" if named == "xlsx" or is_workbook(path) else "zip"
    if head.startswith(OLE[:4]):
        raise InputError(
            f"{path.name} is an Excel 97 (.xls) workbook, or a workbook protected by a password, which "
            "the workbench does not open. Open it in Excel and save it as .xlsx (without a password) "
            "or as CSV UTF-8, then import that."
        )
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    if named in ("xlsx", "zip"):
        raise InputError(
            f"{path.name} is not a readable .{'xlsx workbook' if named == 'xlsx' else 'zip archive'}. "
            "Open it in Excel and save it again as .xlsx, or export it as CSV."
        )
    if named == "parquet":
        raise InputError(f"{path.name} is not a readable Parquet file (it does not start like one).")
    return "csv"


def is_workbook(path: Path) -> bool:
    """A zip holding an Excel workbook."""
    with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as archive:
        return "xl/workbook.xml" in archive.namelist()
    return False


@contextlib.contextmanager
def unzipped(path: Path) -> Iterator[Path]:
    """The one export inside a zip, copied to a private folder that is removed afterwards.

    Raises:
        InputError: not exactly one export inside, another zip, too large, or a damaged archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist()[: limits.MAX_ZIP_MEMBERS + 1] if _wanted(i)]
            if len(members) != 1:
                raise InputError(
                    f"{path.name} holds {'no files' if not members else f'{len(members):,} files'}; the "
                    "workbench opens a zip that holds exactly one export. Unzip it and import each file "
                    "(an Open Referral UK directory: import the unzipped folder)."
                )
            member = members[0]
            name = PurePosixPath(member.filename.replace("\\", "/")).name
            if file_format(Path(name)) == "zip":
                raise InputError(f"{path.name} holds another zip ({name}); unzip it first.")
            if member.file_size > limits.MAX_FILE_BYTES:
                raise InputError(
                    f"{name} in {path.name} is {member.file_size / 1024**2:,.0f} MB unzipped; the "
                    f"workbench reads files of up to {limits.MAX_FILE_BYTES / 1024**2:,.0f} MB."
                )
            with private_folder() as folder:
                target = folder / name
                # zipfile never inflates past the declared size (a lying size fails its CRC check).
                with archive.open(member) as source, exports.private_file(target) as out:
                    shutil.copyfileobj(source, out, CHUNK)
                yield target
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError):
        raise InputError(
            f"{path.name} is not a readable zip archive (damaged, encrypted, or an unusual compression). "
            "Unzip it yourself and import the file inside."
        ) from None


def _wanted(info: zipfile.ZipInfo) -> bool:
    name = info.filename.replace("\\", "/")
    hidden = name.split("/")[-1].startswith(".")
    return not info.is_dir() and not hidden and not any(j in name for j in ZIP_JUNK)


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A private (0700) temporary folder, removed however the block ends."""
    # Copies hold the same personal data as the original: a 0700 folder, removed however it ends.
    folder = Path(tempfile.mkdtemp(prefix="workbench-import-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "FORMATS",
    "file_format",
    "content_format",
    "is_workbook",
    "unzipped",
    "private_folder",
]
