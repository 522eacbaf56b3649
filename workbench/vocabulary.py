"""The fixed vocabularies every part of the workbench shares: outcomes, needs, urgency, skills.

Defined once here; importers map the labels people actually type onto these (ingest_vocab), the
synthetic organisation draws from them, and analysis groups by them.
"""

from __future__ import annotations

# A call attempt's outcome (DESIGN.md).
OUTCOMES = (
    "answered",
    "no_answer",
    "voicemail",
    "busy",
    "wrong_number",
    "call_back_later",
    "refused",
    "do_not_call",
    "deceased_moved",
)

# What kind of support a member needs.
NEED_CATEGORIES = (
    "food",
    "medicine",
    "isolation",
    "mental_health",
    "financial",
    "housing",
    "digital",
    "other",
)

URGENCIES = ("low", "medium", "high")

# Data-protection queries a member can raise on a call (the guidance's "responding to queries").
DP_QUERIES = ("how_got_number", "complaint", "other")

# What a member keen to support others offers.
SKILLS = (
    "shopping",
    "prescriptions",
    "befriending",
    "lifts",
    "digital_help",
    "dog_walking",
    "phone_calls",
    "other",
)

# Which volunteer skills suit which need category. Skills not listed here never match.
CATEGORY_SKILLS: dict[str, tuple[str, ...]] = {
    "food": ("shopping", "cooking"),
    "medicine": ("prescriptions", "lifts"),
    "isolation": ("befriending", "phone_calls", "dog_walking"),
    "mental_health": ("befriending", "phone_calls"),
    "financial": ("benefits_advice", "admin"),
    "housing": ("diy", "admin"),
    "digital": ("digital_help",),
    "other": ("other", "lifts", "shopping"),
}
