"""Which encoding a text export is in, and a private UTF-8 copy of it for DuckDB.

A byte-order mark settles it. Otherwise the text is tried as UTF-8 (DuckDB reads that itself,
fast), and where that fails `charset-normalizer` identifies the encoding, rather than guessing
between two: Windows-1252 council logs, UTF-16 without a mark, and the rest.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from pathlib import Path

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import containers

CHUNK = 8 * 1024 * 1024
ENCODING_NAMES = {"cp1252": "Windows-1252 (Excel's CSV)", "utf_16": "UTF-16", "utf_16_le": "UTF-16",
                  "utf_16_be": "UTF-16", "latin_1": "Latin-1", "iso8859_15": "Latin-9"}  # fmt: skip


def bom(head: bytes) -> str | None:
    """utf-8-sig or utf-16 when the bytes start with a byte-order mark, else None."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def detect(path: Path, head: bytes) -> str:
    """The encoding of text that is not UTF-8, by charset-normalizer.

    It looks at the head and at the first stretch that is not UTF-8 (a file can be plain ASCII for
    a long way).

    Raises:
        InputError: the bytes do not look like text in any encoding.
    """
    from charset_normalizer import from_bytes

    sample = head + first_non_utf8(path, len(head))
    best = from_bytes(sample).best()
    if best is None:
        raise InputError(
            f"{path.name} does not look like text (nor a workbook or Parquet file). Check it is the "
            "export, then save it as CSV UTF-8 and import it again."
        )
    if best.encoding in ("ascii", "utf_8"):
        return "cp1252"
    # A short sample often decodes the same in several code pages (Zoë is the same bytes in
    # Windows-1250 and 1252). Then prefer Windows-1252, what Excel writes on a British PC; where
    # the bytes say otherwise (UTF-16, Cyrillic, a £ sign), the detector's choice stands.
    return "cp1252" if "cp1252" in best.could_be_from_charset else best.encoding


def first_non_utf8(path: Path, skip: int) -> bytes:
    """64 KB from just before the first byte that is not UTF-8 (past `skip`), or nothing."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                start = max(offset + error.start - 4096, skip)
                handle.seek(start)
                return handle.read(65536)
            offset += len(chunk)
    return b""


@contextlib.contextmanager
def transcoded(path: Path, encoding: str) -> Iterator[tuple[Path, list[str]]]:
    """A private UTF-8 copy of the file, and a warning saying how it was read."""
    # The copy holds the same personal data as the original, so it lives in a private (0700)
    # directory, is written 0600, and is removed however the import ends.
    with containers.private_folder() as folder:
        copy = folder / "utf8.csv"
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        with open(path, "rb") as source, exports.private_file(copy) as target:
            while chunk := source.read(CHUNK):
                target.write(decoder.decode(chunk).encode("utf-8"))
            target.write(decoder.decode(b"", final=True).encode("utf-8"))
        warnings = []
        if not encoding.startswith(("utf_16", "utf-16")):
            label = ENCODING_NAMES.get(encoding, encoding)
            warnings.append(
                f"{path.name} is not UTF-8; it was read as {label}. If letters look wrong, save it as "
                "'CSV UTF-8' and import again."
            )
        yield copy, warnings


__all__ = ["bom", "detect", "first_non_utf8", "transcoded", "ENCODING_NAMES"]
