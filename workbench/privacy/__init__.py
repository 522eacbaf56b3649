"""Data-protection duties in one place: the audit log, subject access, erasure, retention and
data-protection queries.

The work lives in small modules (audit, subject_access, erasure, retention, dp_queries); this module
names what callers use, so `dataprotection.audit(...)` reads as the duty it is.

Erasure and retention delete rows; DuckDB leaves deleted bytes in the file until it is rewritten,
so run `compact(path, passphrase)` after them (the CLI does).
"""

from __future__ import annotations

from workbench.privacy.dp_queries import STATUSES as DP_QUERY_STATUSES
from workbench.privacy.dp_queries import queries as dp_queries
from workbench.privacy.dp_queries import set_status as set_dp_query_status
from workbench.privacy.erasure import ERASURE_REASONS, Erasure, compact, erase
from workbench.privacy.retention import Retention
from workbench.privacy.retention import apply as apply_retention
from workbench.privacy.retention import plan as plan_retention
from workbench.privacy.subject_access import SubjectAccess
from workbench.privacy.subject_access import export as subject_access
from workbench.store.audit import Verification, audit, log, member_digest, verify

__all__ = ["DP_QUERY_STATUSES", "ERASURE_REASONS", "Erasure", "Retention", "SubjectAccess", "Verification",
           "apply_retention", "audit", "compact", "dp_queries", "erase", "log", "member_digest",
           "plan_retention", "set_dp_query_status", "subject_access", "verify"]
