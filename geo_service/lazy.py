"""A property computed on first use and kept on the instance, without ``functools``' lock.

On Python 3.11 ``functools.cached_property`` computes under one lock per *class*: two requests asking
for the polygons of two different service areas wait for each other, and the second area's outline,
which releases the GIL, runs only when the first is done. Python 3.12 dropped that lock; this is its
behaviour. Two threads asking the *same* instance at once may each compute the value (the analysis
values are pure, so either result is right); the one kept is the last one written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property"]

T = TypeVar("T")
_MISSING = object()


class cached_property(Generic[T]):  # noqa: N801 (named as the functools one it stands in for)
    """Like :class:`functools.cached_property` of Python 3.12: no lock, the value in ``__dict__``."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.attrname: str | None = None
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.attrname = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | cached_property[T]:
        if instance is None:
            return self
        assert self.attrname is not None, "cached_property used outside a class body"
        cache = instance.__dict__
        value = cache.get(self.attrname, _MISSING)
        if value is _MISSING:
            value = self.func(instance)
            cache[self.attrname] = value
        return value  # type: ignore[no-any-return]
