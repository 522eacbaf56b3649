"""Synthetic calling rounds: who was rung, when, by whom, and what they said.

Each round calls a share of the members still callable, up to three attempts each until a
conversation ends the round for them. Members carry a hidden state (wellbeing, need, keenness)
that drifts between rounds, so the same person's answers evolve. The share called per round is
set from the calls still wanted, so `calls=M` lands near M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.vocabulary import NEED_CATEGORIES, SKILLS

ANSWERED, WRONG, CALL_BACK, REFUSED, DNC, GONE = 0, 4, 5, 6, 7, 8
# Per-attempt outcomes for members who never object. Refusals and do-not-call come only from the
# members chosen up front as objectors (their numbers are kept unique; see synthetic_members).
_ATTEMPT_P = np.array([0.41, 0.28, 0.17, 0.05, 0.018, 0.065, 0.0, 0.0, 0.007])
_TERMINAL = np.array([ANSWERED, WRONG, REFUSED, DNC, GONE])
# Outcomes after which nobody rings that member again.
_REMOVES = np.array([WRONG, REFUSED, DNC, GONE])
MAX_ATTEMPTS = 3
MAX_ROUNDS = 8
ROUND_WEIGHTS = (0.4, 0.33, 0.27)
FIRST_ROUND = np.datetime64("2020-03-30T00:00")  # a week into the first lockdown
ROUND_GAP_DAYS = 28
_HOURS = np.arange(9, 21)
_HOUR_P = np.array([3, 8, 9, 8, 6, 6, 7, 8, 9, 10, 7, 4], dtype=float)

# Need categories by age band (<35, 35-64, 65+): the young lose income, the old are cut off.
_NEED_P = np.array(
    [
        [0.12, 0.04, 0.10, 0.26, 0.28, 0.12, 0.03, 0.05],
        [0.18, 0.10, 0.12, 0.18, 0.20, 0.08, 0.06, 0.08],
        [0.22, 0.26, 0.24, 0.06, 0.04, 0.03, 0.10, 0.05],
    ]
)
_SKILL_P = np.array(
    [
        [0.24, 0.14, 0.08, 0.14, 0.16, 0.14, 0.06, 0.04],
        [0.22, 0.16, 0.12, 0.18, 0.10, 0.10, 0.08, 0.04],
        [0.08, 0.06, 0.30, 0.08, 0.02, 0.06, 0.36, 0.04],
    ]
)
_KEEN_P = np.array([0.38, 0.24, 0.09])


def expected_attempts() -> float:
    """Mean attempts per member per round: 1 + q + q^2 for q = P(attempt does not end the round)."""
    q = 1.0 - _ATTEMPT_P[_TERMINAL].sum()
    return float(sum(q**k for k in range(MAX_ATTEMPTS)))


def age_band(age: np.ndarray) -> np.ndarray:
    """0 for under 35, 1 for 35-64, 2 for 65 and over."""
    return np.digitize(age, [35, 65]).astype(np.int8)


@dataclass
class Latent:
    """Each member's hidden state in the current round."""

    wellbeing: np.ndarray
    need: np.ndarray
    primary: np.ndarray
    keen: np.ndarray
    band: np.ndarray

    @classmethod
    def start(cls, rng: np.random.Generator, age: np.ndarray) -> Latent:
        band = age_band(age)
        wellbeing = rng.normal(3.7, 0.7, len(age)) - 0.25 * (age >= 75)
        latent = cls(
            wellbeing,
            np.zeros(len(age), bool),
            _draw_category(rng, band),
            rng.random(len(age)) < _KEEN_P[band],
            band,
        )
        latent.need = rng.random(len(age)) < latent.p_new_need() * 1.6
        return latent

    def p_new_need(self) -> np.ndarray:
        # Older members and those already low are likelier to develop a need.
        return 0.045 + 0.03 * (self.band == 2) + 0.07 * (self.wellbeing < 3)

    def advance(self, rng: np.random.Generator, drift: float) -> None:
        """Move everyone on one round: wellbeing drifts, needs persist or arise, focus shifts."""
        n = len(self.wellbeing)
        self.wellbeing = self.wellbeing + rng.normal(drift, 0.45, n)
        self.need = np.where(self.need, rng.random(n) < 0.62, rng.random(n) < self.p_new_need())
        shift = rng.random(n) < 0.25
        self.primary = np.where(shift, _draw_category(rng, self.band), self.primary)


def _draw_category(rng: np.random.Generator, band: np.ndarray) -> np.ndarray:
    cum = np.cumsum(_NEED_P, axis=1)
    return np.minimum((rng.random(len(band))[:, None] > cum[band]).sum(axis=1), len(NEED_CATEGORIES) - 1)


def _draw_from(rng: np.random.Generator, probs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.minimum(
        np.searchsorted(np.cumsum(probs / probs.sum()), rng.random(shape), side="right"), len(probs) - 1
    )


@dataclass
class Rounds:
    """Everything the simulation produced, one row per attempt (not yet in time order)."""

    attempts: pd.DataFrame  # member, round, outcome, called_at, caller, + answered content
    needs: pd.DataFrame  # row (attempt row), category (index into NEED_CATEGORIES)
    skills: pd.DataFrame  # row, skill (index into SKILLS)


def _callers(rng: np.random.Generator, branch: np.ndarray, n_callers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per branch, the first caller number and how many callers it has (by branch size)."""
    size = np.bincount(branch)
    count = np.maximum(2, np.floor(size / size.sum() * n_callers)).astype(int)
    return np.r_[0, np.cumsum(count)[:-1]], count


def _round_times(rng: np.random.Generator, r: int, k: int) -> np.ndarray:
    """k x MAX_ATTEMPTS timestamps: first attempt in the round's first 10 days, retries 1-3 days apart."""
    day = (
        rng.integers(0, 10, k)[:, None]
        + np.c_[np.zeros(k, int), np.cumsum(rng.integers(1, 4, (k, 2)), axis=1)]
    )
    hour = _HOURS[_draw_from(rng, _HOUR_P, (k, MAX_ATTEMPTS))]
    minutes = day * 1440 + hour * 60 + rng.integers(0, 60, (k, MAX_ATTEMPTS))
    return FIRST_ROUND + np.timedelta64(r * ROUND_GAP_DAYS, "D") + minutes.astype("timedelta64[m]")


def _attempts(rng: np.random.Generator, objecting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outcome codes (k x MAX_ATTEMPTS) and number of attempts made for k called members."""
    k = len(objecting)
    codes = _draw_from(rng, _ATTEMPT_P, (k, MAX_ATTEMPTS))
    ends = np.isin(codes, _TERMINAL)
    made = np.where(ends.any(axis=1), ends.argmax(axis=1) + 1, MAX_ATTEMPTS)
    # An objector's last attempt this round is the one where they object.
    who = np.flatnonzero(objecting > 0)
    codes[who, made[who] - 1] = np.where(objecting[who] == 1, DNC, REFUSED)
    return codes, made


def simulate(
    rng: np.random.Generator,
    age: np.ndarray,
    branch: np.ndarray,
    has_phone: np.ndarray,
    objector: np.ndarray,
    target: int,
    n_callers: int,
    progress=None,
) -> Rounds:
    """Run calling rounds until about `target` calls are made (at least three rounds).

    Args:
        rng: seeded generator.
        age, branch, has_phone, objector: per member (objector from choose_objectors).
        target: calls wanted in total; 0 gives no calls.
        n_callers: volunteer callers, shared out between branches by size.
        progress: optional tqdm bar, advanced once per round.

    Returns:
        A Rounds with attempts in generation order.
    """
    if target <= 0:
        return _combine([], [], [])
    n, e_att = len(age), expected_attempts()
    removed = ~has_phone
    objects_in = rng.integers(0, len(ROUND_WEIGHTS), n)
    latent = Latent.start(rng, age)
    start, count = _callers(rng, branch, n_callers)
    parts, need_parts, skill_parts, done, offset = [], [], [], 0, 0
    for r in range(MAX_ROUNDS):
        remaining = target - done
        if remaining <= 0 or (r >= len(ROUND_WEIGHTS) and remaining < 0.02 * target):
            break
        if r:
            latent.advance(rng, drift=-0.15 if r == 1 else 0.1)
        share = remaining * ROUND_WEIGHTS[r] / sum(ROUND_WEIGHTS[r:]) if r < len(ROUND_WEIGHTS) else remaining
        eligible = np.flatnonzero(~removed)
        if not len(eligible):
            break
        cover = min(1.0, share / (len(eligible) * e_att))
        idx = eligible[rng.random(len(eligible)) < cover]
        objecting = np.where(objects_in[idx] <= r, objector[idx], 0)
        codes, made = _attempts(rng, objecting)
        times = _round_times(rng, r, len(idx))
        caller = start[branch[idx]] + (count[branch[idx]] * rng.random(len(idx)) ** 1.6).astype(int)
        row, att = np.nonzero(np.arange(MAX_ATTEMPTS)[None, :] < made[:, None])
        last = codes[np.arange(len(idx)), made - 1]
        removed[idx[np.isin(last, _REMOVES)]] = True
        frame = pd.DataFrame(
            {
                "member": idx[row],
                "round": r,
                "outcome": codes[row, att],
                "called_at": times[row, att],
                "caller": caller[row],
            }
        )
        frame, needs, skills = _content(rng, frame, latent, offset)
        parts.append(frame)
        need_parts.append(needs)
        skill_parts.append(skills)
        done += len(frame)
        offset += len(frame)
        if progress is not None:
            progress.update(1)
    return _combine(parts, need_parts, skill_parts)


def _combine(parts, need_parts, skill_parts) -> Rounds:
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("member", "round", "outcome", "caller")})
        empty["called_at"] = pd.Series(dtype="datetime64[ns]")
        for c in ("wellbeing", "needs_support", "urgency", "keen", "dp_query"):
            empty[c] = pd.Series(dtype="float64")
        blank = pd.DataFrame({"row": pd.Series(dtype="int64"), "category": pd.Series(dtype="int64")})
        return Rounds(empty, blank, blank.rename(columns={"category": "skill"}))
    return Rounds(
        pd.concat(parts, ignore_index=True),
        pd.concat(need_parts, ignore_index=True),
        pd.concat(skill_parts, ignore_index=True),
    )


def _content(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    latent: Latent,
    offset: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What was said on answered calls: wellbeing, need, urgency, keenness, skills, DP queries.

    Non-answered rows get -1 in the coded columns (NA once the frames are built).
    """
    ans = np.flatnonzero(frame["outcome"].to_numpy() == ANSWERED)
    m = frame["member"].to_numpy()[ans]
    k = len(ans)
    need = latent.need[m]
    wellbeing = np.clip(np.rint(latent.wellbeing[m] + rng.normal(0, 0.4, k) - 0.9 * need), 1, 5)
    urgency = np.where(
        wellbeing <= 2,
        _draw_from(rng, np.array([0.2, 0.45, 0.35]), (k,)),
        _draw_from(rng, np.array([0.5, 0.38, 0.12]), (k,)),
    )
    keen = np.where(
        need, rng.random(k) < 0.03, np.where(latent.keen[m], rng.random(k) < 0.85, rng.random(k) < 0.03)
    )
    asked = rng.random(k) >= 0.03  # sometimes the caller never asked
    dp = np.where(rng.random(k) < 0.012, _draw_from(rng, np.array([0.6, 0.15, 0.25]), (k,)), -1)
    cols = {
        "wellbeing": wellbeing,
        "needs_support": need,
        "urgency": np.where(need, urgency, -1),
        "keen": np.where(asked, keen, -1),
        "dp_query": dp,
    }
    for name, values in cols.items():
        full = np.full(len(frame), -1, dtype=np.int8)
        full[ans] = values
        frame[name] = full
    rows = ans + offset
    return (
        frame,
        _need_rows(rng, rows[need], latent, m[need]),
        _skill_rows(rng, rows[asked & keen], latent.band[m[asked & keen]]),
    )


def _need_rows(rng: np.random.Generator, rows: np.ndarray, latent: Latent, m: np.ndarray) -> pd.DataFrame:
    """The member's main need, plus a second one 40% of the time."""
    extra = rng.random(len(rows)) < 0.4
    second = _draw_category(rng, latent.band[m])
    out = pd.DataFrame({"row": np.r_[rows, rows[extra]], "category": np.r_[latent.primary[m], second[extra]]})
    return out.drop_duplicates(ignore_index=True)


def _skill_rows(rng: np.random.Generator, rows: np.ndarray, band: np.ndarray) -> pd.DataFrame:
    """One to three skills per keen volunteer, likelier ones by age band."""
    how_many = rng.integers(1, 4, len(rows))
    cum = np.cumsum(_SKILL_P, axis=1)
    draws = (rng.random((len(rows), 3))[:, :, None] > cum[band][:, None, :]).sum(axis=2)
    r, j = np.nonzero(np.arange(3)[None, :] < how_many[:, None])
    out = pd.DataFrame({"row": rows[r], "skill": np.minimum(draws[r, j], len(SKILLS) - 1)})
    return out.drop_duplicates(ignore_index=True)
