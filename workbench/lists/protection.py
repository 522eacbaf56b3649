"""Secure it: lists that leave the building encrypted, with a passphrase a person can read out.

A protected list is encrypted with AES-256 by the libraries made for each format: Office's agile
encryption (`msoffcrypto-tool`) for a workbook, which Excel and LibreOffice open after asking for
the password, and the PDF standard's AES-256 (`pikepdf`, revision 6) for a printable page. No
crypto is written here.

The passphrase is generated for each list (`passphrase`): words from the EFF long word list,
joined by hyphens, easy to read out over a phone. It is handed back to the caller once and never
stored, logged or audited: the registry records only *that* the list was protected, and how.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError

WORDS = 5  # 5 words from the 6,219 of 3 to 8 letters: 63 bits, far past guessing offline
SEPARATOR = "-"
# How each kind of protection is recorded in the registry (never the passphrase itself).
XLSX_METHOD = "xlsx-agile-aes256"
PDF_METHOD = "pdf-aes256"
UNPROTECTED = "none"
METHOD_LABELS = {
    XLSX_METHOD: "encrypted: AES-256 (Office agile encryption), passphrase sent separately",
    PDF_METHOD: "encrypted: AES-256 (PDF), passphrase sent separately",
    UNPROTECTED: "NOT encrypted",
}
ADVICE = (
    "Send the passphrase by a different channel from the file: if the file goes by email, read the "
    "passphrase out by phone or send it by text message. It is shown only this once and the "
    "workbench does not keep it; if it is lost, make a new list."
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted Office file is an OLE container, not a zip


@dataclass(frozen=True)
class Protection:
    """How a list was protected, as the registry records it: the method, and a reason when it was not."""

    method: str
    reason: str | None = None

    @property
    def protected(self) -> bool:
        return self.method != UNPROTECTED

    def describe(self) -> str:
        """One line for the registry and the breach report.

        Examples:
            >>> Protection("none", "branch printer cannot open PDFs").describe()
            'NOT encrypted (reason recorded: branch printer cannot open PDFs)'
        """
        label = METHOD_LABELS.get(self.method, self.method)
        return f"{label} (reason recorded: {self.reason})" if self.reason else label


def passphrase(words: int = WORDS) -> str:
    """A fresh passphrase of common English words, from the operating system's random source.

    Examples:
        >>> len(passphrase().split("-"))
        5
    """
    from xkcdpass import xkcd_password as xp

    # Short, plain words are easy to read out and to type; xkcdpass draws with secrets-grade randomness.
    wordlist = xp.generate_wordlist(wordfile=xp.locate_wordfile("eff-long"), min_length=3, max_length=8)
    return xp.generate_xkcdpassword(wordlist, numwords=words, delimiter=SEPARATOR, case="lower")


def typed_forms(text: str) -> list[str]:
    """The passphrase as given, and as read out (spaces for hyphens, capitals): each is tried in turn.

    Examples:
        >>> typed_forms(" Maple otter-ribbon ")
        ['Maple otter-ribbon', 'maple-otter-ribbon']
    """
    given = text.strip()
    normal = SEPARATOR.join(given.lower().replace(SEPARATOR, " ").split())
    return [given] if normal == given else [given, normal]


def encrypt_xlsx(plain: bytes, secret: str) -> bytes:
    """A workbook's bytes encrypted with Office agile encryption (AES-256), all in memory."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt(secret, out)
    return out.getvalue()


def is_encrypted_office(data: bytes) -> bool:
    """Whether these bytes are a password-protected Office file (an OLE container), not a plain .xlsx."""
    return data[:8] == OLE_MAGIC


def decrypt_xlsx(data: bytes, secret: str, *, file_name: str) -> bytes:
    """A protected workbook's plain bytes, decrypted in memory.

    Raises:
        InputError: the file is damaged, or the passphrase does not open it (never echoed).
    """
    for candidate in typed_forms(secret):
        plain = _try_key(data, candidate, file_name)
        if plain is not None:
            return plain
    raise InputError(
        f"{file_name}: that passphrase does not open this list. Check it with whoever sent the list "
        "(it is the one shown when the list was made; the workbench does not keep a copy)."
    )


def _try_key(data: bytes, candidate: str, file_name: str) -> bytes | None:
    import msoffcrypto
    from msoffcrypto.exceptions import DecryptionError

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        office.load_key(password=candidate, verify_password=True)
        out = io.BytesIO()
        office.decrypt(out)
    except DecryptionError:  # InvalidKeyError is one: the wrong passphrase
        return None
    except Exception:  # noqa: BLE001 - a damaged container fails in struct, OLE or XML parsing
        raise InputError(
            f"{file_name} looks like a password-protected workbook but cannot be read: it may be damaged. "
            "Ask for the list to be sent again, as it was exported."
        ) from None
    return out.getvalue()


def encrypt_pdf(pdf: Path, secret: str) -> bytes:
    """A PDF's bytes encrypted with AES-256 (PDF 2.0, revision 6): the passphrase opens it.

    The owner password is a random one nobody keeps, so permissions cannot be lifted by anyone.
    """
    import pikepdf

    out = io.BytesIO()
    with pikepdf.open(pdf) as document:
        document.save(
            out, encryption=pikepdf.Encryption(user=secret, owner=secrets.token_urlsafe(24), R=6)
        )
    return out.getvalue()


__all__ = [
    "ADVICE",
    "PDF_METHOD",
    "UNPROTECTED",
    "XLSX_METHOD",
    "Protection",
    "decrypt_xlsx",
    "encrypt_pdf",
    "encrypt_xlsx",
    "is_encrypted_office",
    "passphrase",
    "typed_forms",
]
