"""Lists that leave the building, and what comes back.

`followups` composes and writes a branch's follow-up list and the next round's list; `returns`
reads a branch's results back; `registry` records every list issued (Report it, Shred it, Secure
it); `breach` writes the report for a lost list. `protection` encrypts a list (AES-256 XLSX or PDF)
with a passphrase made for it, and `printing` prints a page to PDF with headless Chromium.
`briefing` writes the callers' A4 sheet, which holds no member's data.
"""
