"""Exponential backoff for members that do not answer (and records a member refused).

``delay_ms(failures)`` doubles from ``base_ms`` with each consecutive failure and is
capped at ``cap_ms`` (60 s by default), then jittered into [delay/2, delay] so that
members retrying the same peer do not stay in step. Pure: the random draw is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from accord.errors import UsageError

__all__ = ["DEFAULT_BACKOFF", "Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base_ms`` after the first failure, doubling, at most ``cap_ms``."""

    base_ms: int = 250
    cap_ms: int = 60_000

    def __post_init__(self) -> None:
        if type(self.base_ms) is not int or self.base_ms < 1:
            raise UsageError("backoff base_ms must be a positive integer")
        if type(self.cap_ms) is not int or self.cap_ms < self.base_ms:
            raise UsageError("backoff cap_ms must be an integer at least base_ms")

    def delay_ms(self, failures: int, draw: float = 1.0) -> int:
        """The wait after ``failures`` consecutive failures (0: none), jittered by ``draw``.

        ``draw`` in [0, 1] (e.g. ``random.random()``) scales the delay into
        [delay/2, delay]; 1.0 gives the full delay.
        """
        if failures <= 0:
            return 0
        full = min(self.cap_ms, self.base_ms << min(failures - 1, 40))
        draw = min(max(draw, 0.0), 1.0)
        return max(1, int(full * (0.5 + draw / 2)))


DEFAULT_BACKOFF: Final = Backoff()
