"""Registration QC judged against the normal database's own members.

A phantom-made template correlates less with real perfusion than with our phantoms (issue 15:
real-pattern normals at r = 0.85-0.90 against a fixed threshold of 0.85), so a fixed r says
more about the template than about the registration. When the database records its members'
QC values against the template a study is registered to, the study is judged against that
distribution: flagged below the members' minimum minus ``qc_warn_margin``, rejected below the
minimum minus ``qc_reject_margin``, and always rejected below ``qc_floor`` (flips, truncation,
objects that are not a brain; measured in docs/registration.md). Without such a distribution,
``qc_threshold`` is the absolute threshold, as before.

One poorly registered member would set that minimum for every later study (world B: 0.755,
the next member 0.848), so members whose QC is a low outlier of the members' own distribution
(``outliers``: below the median minus ``OUTLIER_K`` robust SDs, or below the floor) are left out
of the database at build time and out of the distribution a study is judged against.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from processor.result import QCMembers


OUTLIER_K = 5.0            # robust SDs below the members' median (docs/registration.md, "Outlying members")
OUTLIER_MIN_MEMBERS = 10   # fewer values: no robust spread to speak of, only the floor applies
OUTLIER_MIN_SD = 0.01      # r; the cut stays >= 0.05 below the median: a tight set must not lose a good member


def outlier_cut(values: np.ndarray, floor: float) -> float:
    """The QC value below which a member is a low outlier: ``floor`` always, and, with at least
    ``OUTLIER_MIN_MEMBERS`` values, median - ``OUTLIER_K`` * 1.4826 * MAD when higher (one pass;
    the low side only, since a high QC is never a registration problem)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < OUTLIER_MIN_MEMBERS:
        return floor
    med = float(np.median(v))
    sd = max(1.4826 * float(np.median(np.abs(v - med))), OUTLIER_MIN_SD)
    return max(floor, med - OUTLIER_K * sd)


def outliers(values: np.ndarray, floor: float) -> np.ndarray:
    """Which members' QC values are low outliers (below ``outlier_cut``)."""
    v = np.asarray(values, dtype=np.float64)
    return v < outlier_cut(v, floor)


def screened_at_build(meta: Mapping[str, Any]) -> bool:
    """Whether ``spectssp normaldb build`` screened the members for QC outliers: it records the
    left-out members (maybe none) as a list in meta ``qc_left_out``; older databases have none."""
    return isinstance(meta.get("qc_left_out"), list)


def kept_member_qc(member_qc: np.ndarray | None, left_out_recorded: bool, floor: float) -> np.ndarray | None:
    """The members' QC values a study is judged against: as stored when the database recorded
    its left-out members at build time (already screened: the rule is not applied twice), else
    (databases built before the rule) without the outliers ``outliers`` finds in them."""
    if member_qc is None or left_out_recorded:
        return member_qc
    return np.asarray(member_qc)[~outliers(member_qc, floor)]


@dataclass(frozen=True)
class Verdict:
    """What QC decided: the threshold that applied, pass/flag, and the members' distribution."""

    threshold: float
    passed: bool
    flagged: bool                 # passed, but below the members' range by more than the warn margin
    members: QCMembers | None     # None: the absolute rule (no member distribution)
    left_out: int = 0             # database members processing left out as QC outliers (older databases)


def judge(qc: float, member_qc: np.ndarray | None, *, absolute: float, floor: float, warn_margin: float,
          reject_margin: float, left_out: int = 0) -> Verdict:
    """The QC rule; ``member_qc`` None or empty: ``absolute`` alone (today's behaviour).
    ``left_out``: how many database members ``kept_member_qc`` dropped (said in the messages)."""
    if member_qc is None or len(member_qc) == 0:
        return Verdict(absolute, bool(qc >= absolute), False, None)
    from scipy.stats import percentileofscore  # deferred: scipy.stats costs start-up, QC runs after ANTs

    values = np.asarray(member_qc, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    warn_below = lo - warn_margin
    reject_below = max(floor, lo - reject_margin)
    passed = bool(qc >= reject_below)
    members = QCMembers(int(values.size), round(lo, 4), round(hi, 4),
                        round(float(percentileofscore(values, qc, kind="weak")), 1),
                        round(warn_below, 4), round(reject_below, 4))
    return Verdict(reject_below, passed, passed and qc < warn_below, members, left_out)


def standing(qc: float, members: QCMembers, left_out: int = 0) -> str:
    """Where ``qc`` stands among the members, in words (warnings, rejections). With members
    left out here, the count says so: the database (and the SR's N) still has them all."""
    who = (f"{members.n} kept members ({left_out} QC outlier{'s' if left_out > 1 else ''} of "
           f"{members.n + left_out} left out)" if left_out else f"{members.n} members")
    return (f"r = {qc:.3f}; the normal database's {who} {members.min:.3f}-{members.max:.3f}, "
            f"percentile {members.percentile:g}")


def flag_warning(qc: float, members: QCMembers, left_out: int = 0) -> str:
    """The result.json warning of a flagged study (``left_out``: as :func:`standing`)."""
    return (f"registration QC is below the normal database members' range ({standing(qc, members, left_out)}; "
            f"flagged below {members.warn_below:.3f}): check the registration picture before trusting the statistics")


def failure_message(qc: float, verdict: Verdict, template: str) -> str:
    """The REGISTRATION_FAILED sentence, for either rule."""
    what = "the normal database's site template" if template == "site" else "the template"
    if verdict.members is None:
        return (f"registration to {what} failed quality control (r = {qc:.2f} < {verdict.threshold}); "
                "see the QC picture.")
    return (f"registration to {what} failed quality control ({standing(qc, verdict.members, verdict.left_out)}; rejected below "
            f"{verdict.threshold:.3f}); see the QC picture.")
