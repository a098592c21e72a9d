"""Time to reach the same training objective (the protocol is described in README.md).

1. Reference: every contender fits at a tight ``tol`` with a large ``max_iter``; the best
   objective of all of them is the optimum, and the target is that value plus ``rtol`` relative.
2. Search: each contender fits again at the same ``tol`` with capped ``max_iter`` values on a
   geometric grid (ratio ``STEP``), walking from a starting point down or up to the smallest grid
   value whose fit reaches the target. A capped L-BFGS run is the start of the uncapped one, so the
   objective falls as the cap grows and the walk finds that value exactly.
3. Timing: fits at that cap, best of at least ``repeat``, and of more (up to ``MAX_REPEAT``)
   while they took less than ``min_seconds`` (``MIN_TIMED_SECONDS`` unless a caller asks for
   exactly ``repeat`` fits with 0) in all: on this shared machine the best of three fits of a
   few milliseconds still varies by tens of percent. The timed fits run without
   the memory sampler, whose thread wakes every millisecond and takes a share of a core from
   whichever fit it watches; the extra peak RSS reported is the search's fit at the cap's.
"""

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from multilogit._comparison import fitted_objective, iterations_per_problem
from peak_memory import PeakMemory

STEP = 1.1  # grid ratio of max_iter: the reported cap is at most 10% above the first that works
START_FRACTION = 0.4  # the walk starts at this share of the reference fit's iterations
REPEAT_BUDGET_SECONDS = 20.0  # repeats stop once the fits at one setting took this long in all
MIN_TIMED_SECONDS = 2.0  # quick fits are repeated beyond ``repeat`` until they took this long
MAX_REPEAT = 25
# Pause before a fit that follows other work (another library's fit, the benchmark's own NumPy
# work): the idle worker threads of the library that ran last (OpenBLAS's, scikit-learn-intelex's)
# keep spinning for up to about 0.2 s after its call and take a core from whichever fit comes
# next. Fits of one library follow each other without it, as repeated calls do in use: a pause
# there only lets the machine idle, and short fits ran slower after it (see README.md).
SETTLE_SECONDS = 0.25
_settle_every_fit = False
_last_fit_library = None  # the library of the last fit, if nothing else ran since


def settle_before_every_fit(every=True):
    """Pause before every fit, the protocol of earlier reports (--settle-every-fit)."""
    global _settle_every_fit
    _settle_every_fit = every


def after_other_work():
    """Note that work other than fit_once's ran since the last fit: the next fit pauses."""
    global _last_fit_library
    _last_fit_library = None


@dataclass
class Contender:
    """One implementation fitted on one data set: ``make(tol, max_iter)`` returns a fresh
    unfitted model, which is fitted on ``X_fit`` (the float64 training data or a copy)."""

    name: str
    make: object
    X_fit: np.ndarray
    library: str  # whose code fits: contenders of one library follow each other without a pause


@dataclass
class Fit:
    model: object
    max_iter: int
    seconds: float
    extra_bytes: int | None  # None: not sampled
    objective: float
    iterations: int  # the largest iteration count of the fit's optimisation problems


def fit_once(contender, dataset, strategy, *, C, tol, max_iter, sample_memory=True):
    """One timed fit, with its extra peak memory (unless not ``sample_memory``) and its
    objective on the float64 data."""
    global _last_fit_library
    model = contender.make(tol, max_iter)
    if _settle_every_fit or contender.library != _last_fit_library:
        time.sleep(SETTLE_SECONDS)
    # Capped fits stop short on purpose. The filter also reaches scikit-learn's joblib workers.
    with warnings.catch_warnings(), PeakMemory() if sample_memory else nullcontext() as peak:
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(contender.X_fit, dataset.y_train)
        seconds = time.perf_counter() - start
    # One BLAS thread for the measurement: a threaded BLAS call leaves its workers spinning for a
    # while afterwards, and they would take a core from the next timed fit, whoever's it is.
    with threadpool_limits(limits=1, user_api="blas"):
        objective = fitted_objective(model, dataset.X_train, dataset.y_train, strategy, C)
    iterations = int(iterations_per_problem(model).max())
    _last_fit_library = contender.library
    return Fit(model, max_iter, seconds, peak.extra_bytes if peak else None, objective,
               iterations)


def first_reaching_cap(probe, threshold, start, limit):
    """The smallest max_iter on the grid through ``start`` whose fit's objective is at most
    ``threshold``, with that fit; (None, last fit) when even ``limit`` does not reach it."""
    k = int(min(max(start, 1), limit))
    fit = probe(k)
    if fit.objective <= threshold:
        while k > 1:
            lower = max(1, min(k - 1, round(k / STEP)))
            lower_fit = probe(lower)
            if lower_fit.objective > threshold:
                break
            k, fit = lower, lower_fit
        return k, fit
    # Going up only helps while the cap stopped the solver; a fit that stopped on its own
    # (tol reached or no further progress) would not get any closer.
    while k < limit and fit.iterations >= k:
        k = min(limit, max(k + 1, round(k * STEP)))
        fit = probe(k)
        if fit.objective <= threshold:
            return k, fit
    return None, fit


@dataclass
class TargetResult:
    """One contender's result on one data set and strategy."""

    contender: str
    reference: Fit | None  # None when the walk started from another contender's result
    cap: int | None  # max_iter of the first grid fit reaching the target; None: never reached
    best: Fit | None  # the best-timed fit at ``cap``
    extra_bytes: int | None = None  # extra peak RSS of the search's fit at ``cap``
    all_seconds: list = field(default_factory=list)
    closest_objective: float = float("nan")  # the best objective seen when never reached

    @property
    def reached(self):
        return self.cap is not None


def target_objective(reference_fits, rtol):
    best = min(fit.objective for fit in reference_fits)
    return best, best + rtol * abs(best)


def _wants_another_fit(seconds, repeat, min_seconds):
    """Whether the timed fits so far (their ``seconds``) call for another (module docstring)."""
    spent = sum(seconds)
    if spent >= REPEAT_BUDGET_SECONDS:
        return False
    return len(seconds) < max(1, repeat) or (len(seconds) < MAX_REPEAT and spent < min_seconds)


def time_to_target(
    contender, dataset, strategy, *, C, tol, threshold, start, limit, repeat, reference=None,
    min_seconds=MIN_TIMED_SECONDS,
):
    """Search the cap for ``contender`` and time fits at it (see the module docstring)."""

    def probe(k, sample_memory=True):
        return fit_once(contender, dataset, strategy, C=C, tol=tol, max_iter=k,
                        sample_memory=sample_memory)

    if reference is not None and reference.objective > threshold:
        return TargetResult(
            contender.name, reference, None, None, closest_objective=reference.objective
        )
    cap, fit = first_reaching_cap(probe, threshold, start, limit)
    if cap is None:
        best_seen = min(fit.objective, reference.objective if reference else fit.objective)
        return TargetResult(contender.name, reference, None, None, closest_objective=best_seen)
    [fits] = fits_in_turn([lambda: probe(cap, sample_memory=False)], repeat, min_seconds)
    return TargetResult(contender.name, reference, cap, _fastest(fits),
                        all_seconds=[f.seconds for f in fits], extra_bytes=fit.extra_bytes)


def fits_in_turn(probes, repeat, min_seconds):
    """Timed fits of each probe (a fit at a fixed cap), the probes fitted in turn until each has
    had its share (module docstring): two probes' best times then come from the same stretch of
    time, where fits timed one probe after the other would carry the drift of the machine's
    load into their ratio."""
    fits = [[] for _ in probes]
    while any(_wants_another_fit([f.seconds for f in own], repeat, min_seconds) for own in fits):
        for probe, own in zip(probes, fits):
            own.append(probe())
    return fits


def retimed_in_turn(entries, dataset, strategy, *, C, tol, repeat,
                    min_seconds=MIN_TIMED_SECONDS):
    """The results of (contender, TargetResult) entries that reached the target, with fresh
    timed fits at their caps, taken in turn (fits_in_turn): for the ratio of their times."""
    probes = [
        partial(fit_once, contender, dataset, strategy, C=C, tol=tol, max_iter=result.cap,
                sample_memory=False)
        for contender, result in entries
    ]
    return [
        replace(result, best=_fastest(fits), all_seconds=[f.seconds for f in fits])
        for (_, result), fits in zip(entries, fits_in_turn(probes, repeat, min_seconds))
    ]


def _fastest(fits):
    return min(fits, key=lambda f: f.seconds)


def start_from_reference(reference):
    return max(1, round(START_FRACTION * reference.iterations))
