"""``geo_service.lazy.cached_property``: computed once per instance, and two instances' values are
computed at the same time (Python 3.11's ``functools`` one computes them one after the other)."""

from __future__ import annotations

import threading

from geo_service.lazy import cached_property


class _Area:
    def __init__(self, name: str, started: dict[str, threading.Event]) -> None:
        self.name = name
        self.started = started
        self.calls = 0

    @cached_property
    def outline(self) -> str:
        """The outline (slow)."""
        self.calls += 1
        self.started[self.name].set()
        other = "b" if self.name == "a" else "a"
        # each waits until the other has started too: only possible when neither holds a lock
        overlapped = self.started[other].wait(timeout=10)
        return f"{self.name}:{overlapped}"


def test_two_instances_compute_at_the_same_time() -> None:
    started = {"a": threading.Event(), "b": threading.Event()}
    a, b = _Area("a", started), _Area("b", started)
    results: dict[str, str] = {}
    threads = [threading.Thread(target=lambda x=x: results.__setitem__(x.name, x.outline)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"a": "a:True", "b": "b:True"}


def test_value_is_kept_per_instance_and_the_class_gives_the_descriptor() -> None:
    started = {"a": threading.Event(), "b": threading.Event()}
    started["b"].set()
    a = _Area("a", started)
    assert a.outline == "a:True"
    assert a.outline == "a:True"
    assert a.calls == 1
    assert "outline" in a.__dict__
    assert isinstance(_Area.outline, cached_property)
    assert _Area.outline.__doc__ == "The outline (slow)."
