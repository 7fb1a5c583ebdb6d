"""Ctrl-C during training: finish the current step, save a checkpoint, exit cleanly.

The first SIGINT only sets a flag that the loop reads between steps (so weights are never caught
half-updated); a second one raises ``KeyboardInterrupt`` at once as usual.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any


class TrainingInterrupted(Exception):
    """Raised by the loop at a step boundary after Ctrl-C."""


class InterruptGuard:
    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        sys.stderr.write(
            "\nCtrl-C: saving a checkpoint after this step and stopping (press Ctrl-C again to abort now)\n"
        )
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def check(self) -> None:
        if self.requested:
            raise TrainingInterrupted()

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            self._installed = False
