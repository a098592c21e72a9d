"""Progress of a fit for ``verbose``: a bar on a terminal, a few lines in a log.

The extension calls the reporter after every solver iteration of every optimisation problem and
once more, with ``finished`` set, when a problem's solver stops. Calls are serialised.
"""

import sys
import time

_BAR_WIDTH = 24
_TERMINAL_REFRESH = 0.1  # seconds between redraws of the bar
_LOG_INTERVAL = 10.0  # seconds between lines when output is not a terminal


class ProgressReporter:
    """Reports progress of ``n_problems`` optimisation problems on ``stream``.

    verbose=1: on a terminal, one line redrawn in place (problems done of total, iteration,
    objective and gradient norm of the problem last heard from); elsewhere, a line when a tenth
    of the problems is done or every ten seconds, so logs are not flooded.
    verbose>=2: one line per iteration of every problem.
    """

    def __init__(self, n_problems, verbose, stream=None):
        self.n_problems = n_problems
        self.every_iteration = verbose >= 2
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty and isatty())
        self.done = 0
        self._last_output = 0.0
        self._last_milestone = 0
        self._drawn = False

    def __call__(self, problem, iteration, objective, gradient_norm, finished):
        self.done += bool(finished)
        state = (
            f"problem {problem + 1}/{self.n_problems}  iteration {iteration:5d}  "
            f"objective {objective:.8e}  |gradient|_inf {gradient_norm:.3e}"
        )
        if self.every_iteration:
            self._line(state + ("  (stopped)" if finished else ""))
        elif self.terminal:
            self._draw(state)
        else:
            self._log(state)

    def close(self):
        """Ends the bar's line, or writes the final count to a log."""
        if self.terminal and self._drawn:
            self._draw("", force=True)
            self.stream.write("\n")
        elif not self.terminal and not self.every_iteration:
            self._line(f"{self.done}/{self.n_problems} problems done")
        self.stream.flush()

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, state, force=False):
        now = time.monotonic()
        if not force and now - self._last_output < _TERMINAL_REFRESH and self.done < self.n_problems:
            return
        self._last_output = now
        filled = round(_BAR_WIDTH * self.done / max(self.n_problems, 1))
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.n_problems} done  {state}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _log(self, state):
        now = time.monotonic()
        milestone = (10 * self.done) // max(self.n_problems, 1)
        if milestone > self._last_milestone or now - self._last_output >= _LOG_INTERVAL:
            if self._last_output == 0.0 and milestone == self._last_milestone:
                self._last_output = now  # the first call starts the clock
                return
            self._last_milestone = milestone
            self._last_output = now
            self._line(f"{self.done}/{self.n_problems} problems done  {state}")
