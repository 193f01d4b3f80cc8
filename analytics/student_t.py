"""Student's t distribution, enough for regression significance and savings bands.

scipy is not a dependency of coopwatt, and the baseline fit needs only two
things: a critical value for a two-sided test (used vectorised in the grid
search) and an approximate p-value for the evidence of the chosen model.
Both use classic normal-based expansions that are accurate to about 1e-3 for
the degrees of freedom met here (tens to hundreds of days).
"""

from __future__ import annotations

import math
from statistics import NormalDist

_STANDARD_NORMAL = NormalDist()


def t_critical(two_sided_alpha: float, dof: float) -> float:
    """Critical |t| for a two-sided test at level alpha with ``dof`` degrees of freedom."""
    if not 0.0 < two_sided_alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {two_sided_alpha}")
    return t_quantile(1.0 - two_sided_alpha / 2.0, dof)


def t_quantile(probability: float, dof: float) -> float:
    """Quantile of Student's t (Cornish-Fisher expansion around the normal quantile)."""
    if dof <= 0:
        return math.inf
    z = _STANDARD_NORMAL.inv_cdf(probability)
    # Abramowitz & Stegun 26.7.5: the first three correction terms in 1/dof.
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3


def t_two_sided_p(t_value: float, dof: float) -> float:
    """Approximate two-sided p-value of a t statistic (normalising transform)."""
    if not math.isfinite(t_value):
        return 0.0 if math.isinf(t_value) else 1.0
    if dof <= 0:
        return 1.0
    # A transform of t that is close to standard normal for moderate dof.
    z = abs(t_value) * (1.0 - 1.0 / (4.0 * dof)) / math.sqrt(1.0 + t_value**2 / (2.0 * dof))
    return math.erfc(z / math.sqrt(2.0))
