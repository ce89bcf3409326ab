"""A time budget for long computations, checked where they loop.

A thread cannot be stopped from outside: a computation that ran past its budget would go on using a
worker (and then store its answer) after the caller had been told it failed. So the service gives each
computation a deadline (:func:`budget`), and the long loops call :func:`check_budget`, which stops the
work with :class:`ComputationTimeout` once the deadline has passed. Nothing here knows about HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from geo_service.errors import ComputationTimeout

__all__ = ["ComputationTimeout", "budget", "budget_left", "check_budget"]

_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("geo_budget", default=None)


@contextmanager
def budget(seconds: float, *, since: float | None = None) -> Iterator[None]:
    """Within the block, :func:`check_budget` stops the work once ``seconds`` have passed since
    ``since`` (a ``time.monotonic()`` reading: when the work was asked for; default now)."""
    start = time.monotonic() if since is None else since
    token = _DEADLINE.set((start + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_budget() -> None:
    """Raise :class:`ComputationTimeout` when the current budget (if any) is spent."""
    current = _DEADLINE.get()
    if current is not None and time.monotonic() > current[0]:
        raise ComputationTimeout.after(current[1])


def budget_left(most: float) -> float:
    """Seconds a solver may take: ``most``, or less when the current budget ends sooner (never below a
    hundredth of a second, so a solver given it still returns)."""
    current = _DEADLINE.get()
    if current is None:
        return most
    return max(0.01, min(most, current[0] - time.monotonic()))
