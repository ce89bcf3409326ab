"""Slowing password guessing without letting anyone lock a user out.

Failed sign-ins are counted for each (user name, client address) pair and for each address:

- **a pair** may fail ``limit`` times in a row at no cost; after that each further attempt waits twice
  as long as the one before, counted from the last failure (2 s, 4 s, 8 s …, never more than
  ``window_s``). The pair's failures are forgotten after ``window_s`` with none, or on a success. So
  guessing one password is about one try per ``window_s``, while someone who guesses the admin's
  password from another machine only slows themselves: the admin, at their own address, signs in as
  usual; and one person's typos in an office behind a shared address (NAT) do not touch their
  colleagues.
- **an address** may fail ``address_limit`` times within ``window_s`` over all names together (by
  default twenty times ``limit``); past that it waits until its oldest failure leaves the window. This
  bounds guessing many names from one machine; a success does not clear it.

The counts are kept in the memory of one process: with several workers each counts its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["LoginThrottle"]

_MAX_KEYS = 10_000  # past this many remembered keys, the ones with no failure in the window are dropped


class LoginThrottle:
    """Counts of failed sign-ins per (name, address) pair and per address.

    Parameters
    ----------
    limit
        Failures of one name from one address within ``window_s`` before attempts must wait.
    window_s
        How long a failure counts, in seconds; also the longest wait.
    address_limit
        Failures from one address (any names) within ``window_s`` before it must wait; ``20 * limit``
        when not given.
    clock
        Monotonic seconds (tests pass their own).

    Examples
    --------
    >>> t = LoginThrottle(limit=2, window_s=60, clock=lambda: 0.0)
    >>> for _ in range(2):
    ...     t.record("li", "10.0.0.7", ok=False)
    >>> t.wait_s("li", "10.0.0.7"), t.wait_s("li", "10.0.0.8"), t.wait_s("wang", "10.0.0.7")
    (2.0, 0.0, 0.0)
    """

    def __init__(
        self,
        *,
        limit: int = 5,
        window_s: float = 300.0,
        address_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s = max(1, limit), window_s
        self.address_limit = max(self.limit, address_limit if address_limit is not None else 20 * self.limit)
        self._clock = clock
        self._pairs: dict[tuple[str, str], tuple[int, float]] = {}  # failures in a row, the last one's time
        self._addresses: dict[str, list[float]] = {}  # failure times within the window
        self._lock = threading.Lock()

    def _streak(self, key: tuple[str, str], now: float) -> tuple[int, float]:
        count, last = self._pairs.get(key, (0, 0.0))
        if count and now - last >= self.window_s:  # a quiet window: forgotten
            del self._pairs[key]
            return 0, 0.0
        return count, last

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._addresses.get(client, ()) if now - t < self.window_s]
        if times:
            self._addresses[client] = times
        else:
            self._addresses.pop(client, None)
        return times

    def _pair_wait(self, count: int, last: float, now: float) -> float:
        if count < self.limit:
            return 0.0
        delay = min(self.window_s, 2.0 ** (count - self.limit + 1))
        return max(0.0, last + delay - now)

    def _address_wait(self, times: list[float], now: float) -> float:
        if len(times) < self.address_limit:
            return 0.0
        # until enough of the oldest failures leave the window to be under the cap again
        oldest_to_go = times[len(times) - self.address_limit]
        return max(0.0, oldest_to_go + self.window_s - now)

    def wait_s(self, name: str, client: str) -> float:
        """Seconds before ``name`` may try again from ``client`` (0: now)."""
        now = self._clock()
        with self._lock:
            count, last = self._streak((name[:128], client), now)
            return max(self._pair_wait(count, last, now), self._address_wait(self._recent(client, now), now))

    def record(self, name: str, client: str, *, ok: bool) -> None:
        """Count a sign-in: a success clears the pair's failures, a failure adds one to both counts."""
        now = self._clock()
        key = (name[:128], client)
        with self._lock:
            if ok:
                self._pairs.pop(key, None)
                return
            if len(self._pairs) + len(self._addresses) > _MAX_KEYS:
                for pair in list(self._pairs):
                    self._streak(pair, now)
                for address in list(self._addresses):
                    self._recent(address, now)
            count, _ = self._streak(key, now)
            self._pairs[key] = (count + 1, now)
            self._recent(client, now)
            self._addresses.setdefault(client, []).append(now)
