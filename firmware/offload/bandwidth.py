"""A token bucket: the camera's upload never exceeds `offload.bandwidth_kbps` on average.

Forty cameras docked at shift change share one uplink; each one pacing itself keeps the
room from flooding it without any coordination. The bucket holds at most a quarter of a
second of tokens (at least one piece), so a pause never turns into a burst at line rate.
"""

from __future__ import annotations

from bodycam.hal.interfaces import Clock

__all__ = ["TokenBucket"]

BURST_SECONDS = 0.25


class TokenBucket:
    """`take(n)` returns once `n` bytes may be sent; rate 0 means unlimited."""

    def __init__(self, kbps: int, clock: Clock, *, piece: int = 64 * 1024) -> None:
        self._rate = kbps * 1000 / 8  # bytes per second
        self._clock = clock
        self._capacity = max(self._rate * BURST_SECONDS, float(piece))
        self._tokens = self._capacity
        self._last = clock.monotonic()

    @property
    def unlimited(self) -> bool:
        return self._rate == 0

    def take(self, count: int) -> None:
        """Wait (on the clock) until `count` bytes fit the rate, then spend them."""
        if self.unlimited:
            return
        self._refill()
        self._tokens -= count
        if self._tokens < 0:
            self._clock.sleep(-self._tokens / self._rate)
            self._refill()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
