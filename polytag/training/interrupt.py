"""Ctrl-C (SIGINT) and SIGTERM during training: finish the current step, save, then stop.

The first signal only sets a flag that the loop reads between steps (so weights are never caught
half-updated); a second one takes its usual effect at once (``KeyboardInterrupt`` for Ctrl-C, the
previous SIGTERM handler, by default the end of the process).

What follows differs by signal (docs/training.md, "Stopping a run"): after Ctrl-C the trainer returns
as Flair's does ("Exiting from training early"), with ``result["interrupted"]`` set; after SIGTERM,
which asks the whole process to end, it raises :class:`TrainingTerminated` (a ``SystemExit`` with code
143) once the checkpoint and ``interrupted-model.pt`` are written. SIGTERM is caught only by
single-process runs: under torchrun the launcher's own SIGTERM handling is left as it was.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

# the exit status of a process ended by a signal, as shells report it
EXIT_CODES = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


class TrainingInterrupted(Exception):
    """Raised by the loop at a step boundary after Ctrl-C or SIGTERM."""


class TrainingTerminated(SystemExit):
    """SIGTERM stopped training; the checkpoint and interrupted model are saved. Exits with 143 unless
    caught; ``result`` is what the trainer would have returned."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(EXIT_CODES["SIGTERM"])
        self.result = result


class InterruptGuard:
    """Catches SIGINT (and, with ``sigterm``, SIGTERM) while training; ``signal_name`` says which came."""

    def __init__(self, sigterm: bool = True) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._signals = (signal.SIGINT, signal.SIGTERM) if sigterm else (signal.SIGINT,)
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # the second signal: its usual effect (the previous handler's), now
            self._restore()
            signal.raise_signal(signum)
            return
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        key = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        sys.stderr.write(
            f"\n{key}: saving a checkpoint after this step and stopping (press Ctrl-C again to abort now)\n"
        )

    def check(self) -> None:
        if self.requested:
            raise TrainingInterrupted()

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            fallback = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, previous if previous is not None else fallback)
        self._previous.clear()

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in self._signals:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()
