"""Data-protection duties in one place: the audit log, subject access, erasure and retention.

The work lives in small modules (audit, subject_access, erasure, retention, dp_queries); this
module names what callers use, so `dataprotection.audit(...)` reads as the duty it is.
"""

from __future__ import annotations

from workbench.audit import Verification, audit, log, member_digest, verify

__all__ = ["Verification", "audit", "log", "member_digest", "verify"]
