"""multilogit's time per loss-and-gradient evaluation, against the roofline.

The time of one evaluation is measured by difference: fits capped at k1 and at k2 iterations
(tol=0, so only the cap stops them), best of ``repeat`` each, give (t2 - t1) / (e2 - e1), with
e1 and e2 the fits' evaluations (``n_evaluations_``). Set-up, input checks and the first
iterations cancel out; what remains is the evaluations' time plus the solver's own work between
them. The fits at k1 and at k2 alternate, so that both bests come from the same stretch of time:
on a shared machine the load changes from second to second, and a difference of bests taken one
after the other would carry that change. For the same reason the fits of several variants of
the data (float64 and float32) alternate too, over the same iterations. L-BFGS with a strong
Wolfe line search accepts the first step on almost every iteration, so an iteration is about one
evaluation until the fit nears the rounding floor of its dtype, where line searches take
several; counting evaluations makes the measure indifferent to that.

Roofline of one evaluation of the softmax loss and gradient: it must read X once and do the two
products X W (scores) and X^T G (gradient), 4 n d K flops, so it takes at least
max(bytes of X / read bandwidth, 4 n d K / GEMM flop rate).
"""

import math
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

import multilogit

FIRST_CAP = 5  # k1: past the first iterations, whose line searches take extra evaluations
MIN_SPAN_SECONDS = 0.15  # t2 - t1 well above timer and scheduling noise
INITIAL_SPAN, MAX_SPAN = 20, 80
# Each time is the best of at least this many fits: t2 - t1 is a small difference of two times
# that on this shared machine varied by tens of percent from fit to fit. A span quicker than
# MIN_SPAN_SECONDS takes proportionally more fits, up to MAX_REPEAT.
MIN_REPEAT, MAX_REPEAT = 5, 40
SPAN_REPEAT = 2  # fits per cap while the span is chosen


def _fit_seconds(X, y, max_iter, n_threads):
    # L-BFGS explicitly, whatever solver="auto" takes: Newton-CG's iterations each hold many
    # Hessian-vector products, not one evaluation.
    model = multilogit.LogisticRegression(
        strategy="softmax", solver="lbfgs", tol=0.0, max_iter=max_iter, n_threads=n_threads
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # capped on purpose: ConvergenceWarning expected
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, int(model.n_iter_[0]), int(model.n_evaluations_[0])


def _best_fit_seconds(runs, y, n_threads, repeat):
    """Best time, iterations and evaluations of the fits of each run (X, cap), the runs taken
    in turn `repeat` times."""
    best = [float("inf")] * len(runs)
    iterations = [0] * len(runs)
    evaluations = [0] * len(runs)
    for _ in range(repeat):
        for i, (X, cap) in enumerate(runs):
            seconds, iterations[i], evaluations[i] = _fit_seconds(X, y, cap, n_threads)
            best[i] = min(best[i], seconds)
    return best, iterations, evaluations


def _caps(X, y, n_threads):
    """(k1, k2) for X, from a couple of fits per cap, and the seconds between them (see
    MIN_SPAN_SECONDS)."""
    span = INITIAL_SPAN
    while True:
        caps = (FIRST_CAP, FIRST_CAP + span)
        (first_seconds, seconds), (_, iterations), _ = _best_fit_seconds(
            [(X, cap) for cap in caps], y, n_threads, SPAN_REPEAT
        )
        stopped_early = iterations < caps[1]
        if seconds - first_seconds >= MIN_SPAN_SECONDS or stopped_early or span >= MAX_SPAN:
            return caps, max(seconds - first_seconds, 1e-9)
        span = min(4 * span, MAX_SPAN)  # too short to time reliably: measure over more iterations


def seconds_per_evaluation(variants, y, *, n_threads, repeat):
    """Wall time of one softmax loss-and-gradient evaluation of multilogit's L-BFGS fit on
    (X, y), for each X of `variants` (the same data in other dtypes, say). The fits of all of
    them are taken in turn, over the same iterations (the shortest span chosen for any of them),
    so that two variants' times, like k1's and k2's, come from the same stretch of time."""
    repeat = max(repeat, MIN_REPEAT)
    chosen = [_caps(X, y, n_threads) for X in variants]
    caps = min((own for own, _ in chosen), key=lambda own: own[1])
    # Each variant's seconds over that span, from those over the span chosen for it.
    shortest = min(
        seconds * (caps[1] - caps[0]) / (own[1] - own[0]) for own, seconds in chosen
    )
    repeat = min(max(repeat, math.ceil(repeat * MIN_SPAN_SECONDS / shortest)), MAX_REPEAT)
    runs = [(X, cap) for X in variants for cap in caps]
    seconds, _, evaluations = _best_fit_seconds(runs, y, n_threads, repeat)
    per_evaluation = []
    for first in range(0, len(runs), 2):
        span = evaluations[first + 1] - evaluations[first]
        per_evaluation.append(
            max(seconds[first + 1] - seconds[first], 0.0) / span if span > 0 else float("nan")
        )
    return per_evaluation


@dataclass(frozen=True)
class Roofline:
    memory_seconds: float  # reading X once at the measured bandwidth
    compute_seconds: float  # 4 n d K flops at the GEMM peak

    @property
    def seconds(self):
        return max(self.memory_seconds, self.compute_seconds)

    @property
    def bound(self):
        return "memory" if self.memory_seconds >= self.compute_seconds else "compute"


def roofline(n, d, K, dtype, rates):
    dtype = np.dtype(dtype)
    return Roofline(
        memory_seconds=n * d * dtype.itemsize / rates.read_bytes,
        compute_seconds=4.0 * n * d * K / rates.flop_peak(dtype),
    )


@dataclass(frozen=True)
class EvaluationCost:
    name: str
    n: int
    d: int
    K: int
    dtype: str
    seconds: float
    roofline: Roofline | None = None  # attached by with_roofline once the rates are known

    @property
    def ratio_to_roofline(self):
        return self.seconds / self.roofline.seconds

    @property
    def nanoseconds_per_row(self):
        return 1e9 * self.seconds / self.n


def measure_evaluation_costs(name, variants, y, *, n_threads, repeat):
    """EvaluationCost of each X of `variants`, timed in turn (seconds_per_evaluation), without
    its roofline (with_roofline)."""
    K = int(np.unique(y).shape[0])
    all_seconds = seconds_per_evaluation(variants, y, n_threads=n_threads, repeat=repeat)
    return [
        EvaluationCost(name, *X.shape, K, X.dtype.name, seconds)
        for X, seconds in zip(variants, all_seconds)
    ]


def with_roofline(costs, rates):
    """The costs with their rooflines from `rates`."""
    return [replace(c, roofline=roofline(c.n, c.d, c.K, c.dtype, rates)) for c in costs]


def better_of(costs, others):
    """Each cost or its counterpart in `others` (the same measurement taken again), whichever
    took less time."""
    return [min(pair, key=lambda c: c.seconds) for pair in zip(costs, others, strict=True)]


def per_row_spread(costs):
    """Largest deviation of the per-row cost from its mean, relative to the mean."""
    per_row = np.array([c.nanoseconds_per_row for c in costs])
    mean = per_row.mean()
    return float(np.max(np.abs(per_row - mean)) / mean)
