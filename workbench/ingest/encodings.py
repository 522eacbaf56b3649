"""Which encoding a text export is in, and a private UTF-8 copy of it for DuckDB.

A byte-order mark settles it. Otherwise the text is tried as UTF-8 (DuckDB reads that itself,
fast), and where that fails `charset-normalizer` identifies the encoding, rather than guessing
between two: Windows-1252 council logs, UTF-16 without a mark, and the rest.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench import exports
from workbench.errors import InputError
from workbench.ingest import containers

CHUNK = 8 * 1024 * 1024
ENCODING_NAMES = {"cp1252": "Windows-1252 (Excel's CSV)", "utf_16": "UTF-16", "utf_16_le": "UTF-16",
                  "utf_16_be": "UTF-16", "latin_1": "Latin-1", "iso8859_15": "Latin-9"}  # fmt: skip
# Single-byte code pages for Latin-script text. Between these a sample of mostly English with a few
# £ ’ – signs is often a tie, and the detector then picks the first alphabetically (cp1250, where £
# is Ł); a tie goes to Windows-1252 instead.
LATIN = {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
         "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16",
         "cp437", "cp775", "cp850", "cp852", "cp858", "cp1140", "mac_roman", "mac_latin2", "mac_iceland",
         "mac_turkish", "hp_roman8"}  # fmt: skip
TIE = 0.01  # chaos and coherence are fractions; closer than this is no evidence either way


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
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        raise InputError(
            f"{path.name} does not look like text (nor a workbook or Parquet file). Check it is the "
            "export, then save it as CSV UTF-8 and import it again."
        )
    if best.encoding in ("ascii", "utf_8"):
        return "cp1252"
    # A short sample often decodes the same in several code pages (Zoë is the same bytes in
    # Windows-1250 and 1252). Then prefer Windows-1252, what Excel writes on a British PC; where
    # the bytes say otherwise (UTF-16, Cyrillic, Polish letters that only make sense in 1250), the
    # detector's choice stands.
    return "cp1252" if _cp1252_fits(best, matches) else best.encoding


def _cp1252_fits(best, matches) -> bool:
    """Whether Windows-1252 reads the sample as well as the detector's Latin-script choice."""
    if "cp1252" in best.could_be_from_charset:
        return True
    if best.encoding not in LATIN:
        return False
    return any(
        "cp1252" in match.could_be_from_charset
        and match.chaos <= best.chaos + TIE
        and match.coherence >= best.coherence - TIE
        for match in matches
    )


def first_non_utf8(path: Path, skip: int) -> bytes:
    """64 KB from just before the first byte that is not UTF-8 (past `skip`), or nothing."""
    offset, _ = first_bad_utf8(path)
    return b"" if offset is None else _stretch(path, offset, skip)


def _stretch(path: Path, offset: int, skip: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(max(offset - 4096, skip))
        return handle.read(65536)


def first_bad_utf8(path: Path) -> tuple[int | None, bool]:
    """The byte offset of the first sequence that is not UTF-8 (None if all is), and whether it is
    the file ending part way through a character."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            pending = len(decoder.getstate()[0])  # the start of a character split across chunks
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset - pending + error.start, False
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return offset - len(error.object) + error.start, True
    return None, False


@dataclass(frozen=True)
class BadBytes:
    """Where UTF-8 text is damaged: the first bad byte, its line, and whether the file is cut short."""

    offset: int
    line: int
    line_start: int  # the byte offset where that line begins
    truncated: bool


def damaged_utf8(path: Path, head: bytes) -> BadBytes | None:
    """Where a file that is UTF-8 has bytes that are not, or None if it is in another encoding.

    It is UTF-8 if it ends part way through a character (cut short), or if its valid multi-byte
    characters (Zoë, Siân) at least match its invalid sequences in number. Text in a single-byte code
    page almost never forms a valid multi-byte sequence (an accented capital must be followed by a
    symbol such as ’ or £), so there the count of valid ones is about zero, and the detector decides.
    """
    offset, truncated = first_bad_utf8(path)
    if offset is None:
        return None
    if not truncated:
        good, bad = _utf8_counts(head)
        # The later stretch starts at an arbitrary byte: skip the tail of a character cut there.
        more_good, more_bad = _utf8_counts(_stretch(path, offset, len(head)).lstrip(CONTINUATION))
        if good + more_good < bad + more_bad:
            return None
    return BadBytes(offset, *_line_at(path, offset), truncated)


CONTINUATION = bytes(range(0x80, 0xC0))  # bytes that can only continue a character


def _utf8_counts(sample: bytes) -> tuple[int, int]:
    """Valid characters beyond ASCII, and runs of invalid bytes, in a stretch of would-be UTF-8."""
    # Not final: a character cut by the end of the stretch is not counted as bad.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    bad = len(re.findall("\ufffd+", text))
    return sum(1 for char in text if char > "\x7f") - text.count("\ufffd"), bad


def _line_at(path: Path, offset: int) -> tuple[int, int]:
    """The 1-based line holding byte `offset`, and the offset where that line starts."""
    lines, start, done = 1, 0, 0
    with open(path, "rb") as handle:
        while done < offset and (chunk := handle.read(min(CHUNK, offset - done))):
            lines += chunk.count(b"\n")
            if (last := chunk.rfind(b"\n")) >= 0:
                start = done + last + 1
            done += len(chunk)
    return lines, start


@contextlib.contextmanager
def transcoded(path: Path, encoding: str) -> Iterator[tuple[Path, list[str]]]:
    """A private UTF-8 copy of the file, and a warning saying how it was read.

    Raises:
        InputError: UTF-16 text that is cut short or damaged (an odd number of bytes, half a pair).
    """
    # The copy holds the same personal data as the original, so it lives in a private (0700)
    # directory, is written 0600, and is removed however the import ends.
    with containers.private_folder() as folder:
        copy = folder / "utf8.csv"
        with open(path, "rb") as source, exports.private_file(copy) as target:
            _transcode(source, target, encoding, path.name)
        warnings = []
        if not _utf16(encoding):
            label = ENCODING_NAMES.get(encoding, encoding)
            warnings.append(
                f"{path.name} is not UTF-8; it was read as {label}. If letters look wrong, save it as "
                "'CSV UTF-8' and import again."
            )
        yield copy, warnings


def _utf16(encoding: str) -> bool:
    return encoding.replace("-", "_").startswith("utf_16")


def _transcode(source, target, encoding: str, name: str) -> None:
    # In UTF-16 every character is whole pairs of bytes, so a bad one means the file was cut short
    # or damaged: refused, not patched. A single-byte code page has a few unused bytes; those
    # become U+FFFD, as they always have.
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict" if _utf16(encoding) else "replace")
    offset, lines = 0, 1
    while chunk := source.read(CHUNK):
        text = _decode(decoder, chunk, name, offset, lines)
        target.write(text.encode("utf-8"))
        offset, lines = offset + len(chunk), lines + text.count("\n")
    target.write(_decode(decoder, b"", name, offset, lines, final=True).encode("utf-8"))


def _decode(decoder, chunk: bytes, name: str, offset: int, lines: int, final: bool = False) -> str:
    """The chunk as text, read after `offset` bytes and `lines` lines; refused where it is not."""
    state = decoder.getstate()
    try:
        return decoder.decode(chunk, final)
    except UnicodeDecodeError as error:
        pending = len(state[0])  # bytes of a character begun in the chunk before
        decoder.setstate(state)
        before = decoder.decode(chunk[: max(error.start - pending, 0)])  # to count its lines
        line = lines + before.count("\n")
        raise _damaged_utf16(name, offset - pending + error.start, line, final) from None


def _damaged_utf16(name: str, offset: int, line: int, truncated: bool) -> InputError:
    what = "ends part way through a character, so it looks cut short" if truncated else (
        "holds bytes that are not valid UTF-16, so it looks damaged")
    return InputError(
        f"{name} line {line:,} (byte {offset:,}): the file is UTF-16 text but {what}. Nothing was "
        "imported. Export or download the file again (and check the copy finished), then import it."
    )


__all__ = ["bom", "detect", "first_non_utf8", "first_bad_utf8", "damaged_utf8", "BadBytes", "transcoded",
           "ENCODING_NAMES"]
