"""The seeded fake organisation trainers demo on, and the demo store built from it.

`organisation.generate` draws the members, calls and services (phones only from Ofcom's drama
ranges); the other modules each draw one part. `demo` builds the published demo store.
"""

from workbench.synthetic.organisation import (
    DRAMA_RANGES,
    MEMBERSHIP_PREFIX,
    NEED_CATEGORIES,
    OUTCOMES,
    PRESETS,
    SKILLS,
    Organisation,
    build_store,
    generate,
    is_drama_number,
    write_exports,
)

__all__ = [
    "DRAMA_RANGES",
    "MEMBERSHIP_PREFIX",
    "NEED_CATEGORIES",
    "OUTCOMES",
    "PRESETS",
    "SKILLS",
    "Organisation",
    "build_store",
    "generate",
    "is_drama_number",
    "write_exports",
]
