"""The statistics behind the tiers: a Poisson tail and the EWMA/EWM-variance of SigniTrend."""

from __future__ import annotations

import math


def poisson_tail(n: int, mu: float) -> float:
    """Return P(X >= n) for X ~ Poisson(mu)."""
    if n <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if mu >= n:  # not surprising; the exact value matters little but stays cheap
        if n > 200:
            return 0.5
        term, lower = math.exp(-mu), 0.0
        for k in range(n):
            lower += term
            term *= mu / (k + 1)
        return max(0.0, 1.0 - lower)
    term = math.exp(-mu + n * math.log(mu) - math.lgamma(n + 1))
    total, k = 0.0, n
    while term > total * 1e-12 and k < n + 1000:  # terms shrink: each is the last times mu/k < 1
        total += term
        k += 1
        term *= mu / k
    return min(1.0, total)


def ewm_fold(mean: float, var: float, x: float, alpha: float) -> tuple[float, float]:
    """Return the exponentially weighted mean and variance after one more observation `x`."""
    delta = x - mean
    mean += alpha * delta
    var = (1.0 - alpha) * (var + alpha * delta * delta)
    return mean, var


def ewm_fold_zeros(mean: float, var: float, hours: int, alpha: float) -> tuple[float, float]:
    """Return the mean and variance after `hours` observations of 0, in closed form (constant work).

    With r = 1 - alpha, k zeros give mean * r^k and r^k * (var + mean^2 * (1 - r^k)).
    """
    if hours <= 0:
        return mean, var
    rk = (1.0 - alpha) ** hours
    return mean * rk, rk * (var + mean * mean * (1.0 - rk))


def significance(x: float, mean: float, var: float, beta: float) -> float:
    """Return SigniTrend's significance of `x`: (x - mean) / (sqrt(var) + beta)."""
    return (x - mean) / (math.sqrt(max(var, 0.0)) + beta)
