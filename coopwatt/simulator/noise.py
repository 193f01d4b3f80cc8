"""Counter-based random numbers: the same (seed, stream, row, time) always gives the same draw.

Hashing the key instead of drawing from a stateful generator makes every series a
pure function of its inputs: a chunk of dwellings or a window of time gives the
same values however the simulation is split.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a cheap, well-mixed 64-bit hash (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, stream: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Uniform draws in (0, 1), shaped by broadcasting `rows` (n, 1) against `cols` (1, m)."""
    with np.errstate(over="ignore"):
        key = np.uint64((seed * 1_000_003 + stream * 7919) & 0xFFFFFFFFFFFFFFFF)
        r = _splitmix(np.asarray(rows, dtype=np.uint64) * _GOLDEN + key)
        x = _splitmix(r ^ (np.asarray(cols, dtype=np.int64).astype(np.uint64) * _MIX1))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normal(seed: int, stream: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Standard normal draws (Box-Muller on two hashed uniforms)."""
    u1 = uniform(seed, 2 * stream, rows, cols)
    u2 = uniform(seed, 2 * stream + 1, rows, cols)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def mean_one(seed: int, stream: int, rows: np.ndarray, cols: np.ndarray, cv: float) -> np.ndarray:
    """Positive factors with mean 1 and coefficient of variation `cv` ≤ 1 (a shifted exponential).

    Much cheaper than a lognormal (one logarithm per draw) and skewed the same way:
    most intervals a little below average, a few far above.
    """
    return (1.0 - cv) - cv * np.log(uniform(seed, stream, rows, cols))


def poisson(seed: int, stream: int, rows: np.ndarray, cols: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts for small means (inverse CDF, capped at 12 events per draw)."""
    u = uniform(seed, stream, rows, cols)
    lam = np.broadcast_to(lam, u.shape)
    p0 = np.exp(-lam)
    count = np.zeros(u.shape, dtype=np.int32)
    # Most intervals have no event: carry on only with those that do.
    where = np.flatnonzero(u > p0)
    u_e, lam_e = u.ravel()[where], lam.ravel()[where]
    term = p0.ravel()[where]
    cdf = term.copy()
    events = np.zeros(where.size, dtype=np.int32)
    for k in range(1, 13):
        above = u_e > cdf
        if not above.any():
            break
        events += above
        term = term * lam_e / k
        cdf = cdf + term
    count.ravel()[where] = events
    return count
