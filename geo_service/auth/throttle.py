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

The counts are kept by a ledger: in the memory of the process (``MemoryLedger``, one process), or in the
accounts database (``AccountStore.sign_in_ledger``), which every worker of the service shares, so that
several workers over one PostGIS count each guess once, not once per worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Ledger", "LoginThrottle", "MemoryLedger"]

_MAX_KEYS = 10_000  # past this many remembered keys, the ones with no failure in the window are dropped


class Ledger(Protocol):
    """Where failed sign-ins are counted. Times are the throttle's clock (seconds)."""

    def streak(self, name: str, client: str, now: float, window_s: float) -> tuple[int, float]:
        """The pair's failures in a row (none when the last is ``window_s`` old) and the last one's time."""
        ...

    def recent(self, client: str, now: float, window_s: float) -> list[float]:
        """The times of the address's failures within ``window_s``, oldest first."""
        ...

    def failed(self, name: str, client: str, now: float, window_s: float) -> None:
        """One more failure of the pair (a new streak after a quiet window) and of the address."""
        ...

    def succeeded(self, name: str, client: str) -> None:
        """The pair's streak ends; the address's failures stay counted."""
        ...


class MemoryLedger:
    """The counts in this process's memory (bounded: quiet keys are dropped past ``_MAX_KEYS``)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], tuple[int, float]] = {}  # failures in a row, the last one's time
        self._addresses: dict[str, list[float]] = {}  # failure times within the window
        self._lock = threading.Lock()

    def _streak(self, key: tuple[str, str], now: float, window_s: float) -> tuple[int, float]:
        count, last = self._pairs.get(key, (0, 0.0))
        if count and now - last >= window_s:  # a quiet window: forgotten
            del self._pairs[key]
            return 0, 0.0
        return count, last

    def _recent(self, client: str, now: float, window_s: float) -> list[float]:
        times = [t for t in self._addresses.get(client, ()) if now - t < window_s]
        if times:
            self._addresses[client] = times
        else:
            self._addresses.pop(client, None)
        return times

    def streak(self, name: str, client: str, now: float, window_s: float) -> tuple[int, float]:
        with self._lock:
            return self._streak((name, client), now, window_s)

    def recent(self, client: str, now: float, window_s: float) -> list[float]:
        with self._lock:
            return self._recent(client, now, window_s)

    def failed(self, name: str, client: str, now: float, window_s: float) -> None:
        key = (name, client)
        with self._lock:
            if len(self._pairs) + len(self._addresses) > _MAX_KEYS:
                for pair in list(self._pairs):
                    self._streak(pair, now, window_s)
                for address in list(self._addresses):
                    self._recent(address, now, window_s)
            count, _ = self._streak(key, now, window_s)
            self._pairs[key] = (count + 1, now)
            self._recent(client, now, window_s)
            self._addresses.setdefault(client, []).append(now)

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            self._pairs.pop((name, client), None)


class LoginThrottle:
    """How long a sign-in must wait, from the failures a :class:`Ledger` counts per (name, address)
    pair and per address.

    Parameters
    ----------
    limit
        Failures of one name from one address within ``window_s`` before attempts must wait.
    window_s
        How long a failure counts, in seconds; also the longest wait.
    address_limit
        Failures from one address (any names) within ``window_s`` before it must wait; ``20 * limit``
        when not given.
    ledger
        Where the failures are counted; this process's memory when not given.
    clock
        Seconds, the same in every process that shares the ledger (tests pass their own).

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
        ledger: Ledger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit, self.window_s = max(1, limit), window_s
        self.address_limit = max(self.limit, address_limit if address_limit is not None else 20 * self.limit)
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self._clock = clock

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
        count, last = self.ledger.streak(name[:128], client, now, self.window_s)
        times = self.ledger.recent(client, now, self.window_s)
        return max(self._pair_wait(count, last, now), self._address_wait(times, now))

    def record(self, name: str, client: str, *, ok: bool) -> None:
        """Count a sign-in: a success clears the pair's failures, a failure adds one to both counts."""
        if ok:
            self.ledger.succeeded(name[:128], client)
        else:
            self.ledger.failed(name[:128], client, self._clock(), self.window_s)
