"""Random ids for register entries, imports and lists.

Letters only, never digits: an id must not look like a phone number to the audit log's guard,
nor be misread over the phone ("0" or "O"?), so the alphabet also leaves out I, L, O and U.
"""

from __future__ import annotations

import secrets

LETTERS = "ABCDEFGHJKMNPQRSTVWXYZ"


def random_letters(count: int) -> str:
    """`count` random letters from a cryptographic source.

    Examples:
        >>> len(random_letters(5)), random_letters(5).isalpha()
        (5, True)
    """
    return "".join(secrets.choice(LETTERS) for _ in range(count))
