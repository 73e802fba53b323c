"""Stopping a training loop cleanly on SIGINT/SIGTERM.

The first signal sets a flag that the loop checks between optimiser steps, so the step in
flight finishes, the ranks agree on the same step and a checkpoint of a consistent state is
written. A second signal raises KeyboardInterrupt at once (no checkpoint).
"""
import signal


class StopRequest:
    """Context manager: ``requested`` turns True on the first SIGINT/SIGTERM."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt(f"signal {signum} received twice")
        self.requested = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class TrainingStopped(KeyboardInterrupt):
    """Raised after a stop request once the checkpoint of ``step`` is saved (exit code 130)."""

    def __init__(self, step, checkpoint):
        super().__init__(f"stopped at step {step}; checkpoint {checkpoint}")
        self.step = step
        self.checkpoint = checkpoint
