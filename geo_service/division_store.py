"""The division of the ground beside a network's streets (:mod:`geo_service.street_cells`) kept in a
folder, so that it is made once per version of the roads, not again by every worker process and
after every restart: some seconds and, for a hundred thousand nodes, 1.5 GB of memory while it runs.

An entry is named by a digest of everything the division is made from (the nodes, the streets and
their points, the width and spacing) and of the code that makes it (the text of ``street_cells.py``,
``reach.py`` and ``arrays.py``, and scipy's version), so a changed road, a new release or another
network never reads another's. It is written to a temporary folder and renamed into place whole; a
process that finds the division being made by another waits for it (a lock file) instead of making
its own. Only the ``keep`` entries used last are kept. A folder that cannot be written, or an entry
that cannot be read, costs the time of dividing again and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata, util
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy

if TYPE_CHECKING:
    from geo_service.street_cells import StreetCells

__all__ = ["DivisionStore"]

log = logging.getLogger(__name__)

_PREFIX = "division-"
_WRITING = ".writing-"  # an entry being written
_ABANDONED_S = 3600.0  # a folder being written this long ago was left by a process that stopped


def _arrays() -> tuple[str, ...]:
    """The arrays a division is made of, in the order StreetCells takes them after width and spacing."""
    from geo_service.street_cells import StreetCells  # (numba: loaded when a division is asked for)

    return tuple(f.name for f in dataclasses.fields(StreetCells) if f.init and not f.name.startswith("_"))[2:]


# the modules whose code makes a division: the division itself, the points along the streets it is
# given (``reach``) and the array helpers both use
_MADE_BY = ("geo_service.street_cells", "geo_service.reach", "geo_service.arrays")


def _code() -> bytes:
    """What the division's code is: the source text of the modules that make it (or, installed without
    it, the package's version) and the version of scipy (qhull) it runs on."""
    texts = []
    for name in _MADE_BY:
        spec = util.find_spec(name)
        try:
            texts.append(Path(spec.origin).read_bytes() if spec and spec.origin else b"")
        except OSError:
            texts.append(b"")
    code = b"\0".join(texts) if all(texts) else metadata.version("geo-service").encode()
    return code + scipy.__version__.encode()


class DivisionStore:
    """Divisions kept in ``directory`` (made when first asked for; at most ``keep`` entries)."""

    def __init__(self, directory: Path, *, keep: int = 4) -> None:
        self.directory = Path(directory)
        self.keep = max(1, keep)
        self._code = hashlib.blake2b(_code(), digest_size=16).digest()

    def key(self, parts: tuple[np.ndarray | float, ...]) -> str:
        """The entry's name for a division made from ``parts`` (arrays and numbers, in order)."""
        digest = hashlib.blake2b(self._code, digest_size=20)
        for part in parts:
            a = np.ascontiguousarray(part)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()

    def get(self, parts: tuple[np.ndarray | float, ...], make: Callable[[], StreetCells]) -> StreetCells:
        """The division made from ``parts``: read from the folder, or made by ``make`` and kept there."""
        key = self.key(parts)
        entry = self.directory / f"{_PREFIX}{key}"
        found = self._read(entry)
        if found is not None:
            return found
        with self._lock(key):
            found = self._read(entry)  # (made by another process while this one waited)
            if found is not None:
                return found
            cells = make()
            self._write(entry, cells)
        return cells

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.directory / f"{_PREFIX}{key}.lock", "a+b")  # noqa: SIM115 (held below)
        except OSError as e:
            log.warning("divisions are not kept on disk: %s", e)
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # (releases the lock; the empty file stays, for the next one to lock)

    def _read(self, entry: Path) -> StreetCells | None:
        if not entry.is_dir():
            return None
        try:
            meta = np.load(entry / "meta.npy")
            arrays = [np.load(entry / f"{name}.npy", allow_pickle=False) for name in _arrays()]
        except (OSError, ValueError) as e:  # (removed by another process's eviction, or damaged)
            log.warning("division %s not read, made again: %s", entry.name, e)
            return None
        with contextlib.suppress(OSError):  # (a folder only read: kept as long as it is)
            os.utime(entry)  # (used now: kept longer than the others)
        from geo_service.street_cells import StreetCells

        return StreetCells(float(meta[0]), float(meta[1]), *arrays)

    def _write(self, entry: Path, cells: StreetCells) -> None:
        try:
            part = Path(tempfile.mkdtemp(prefix=_WRITING, dir=self.directory))
        except OSError as e:
            log.warning("division not kept on disk: %s", e)
            return
        try:
            np.save(part / "meta.npy", np.array([cells.width, cells.spacing]))
            for name in _arrays():
                np.save(part / f"{name}.npy", getattr(cells, name), allow_pickle=False)
            os.replace(part, entry)
        except OSError as e:  # (a full disk: the division is used as made)
            if not entry.is_dir():  # (else another process kept it first)
                log.warning("division not kept on disk: %s", e)
            shutil.rmtree(part, ignore_errors=True)
            return
        self._forget_old()

    def _forget_old(self) -> None:
        """Remove all but the ``keep`` entries used last (and their lock files), and what a process
        that stopped while writing left more than an hour ago (one writing now is younger)."""
        try:
            folders = [(p, p.stat().st_mtime) for p in self.directory.iterdir() if p.is_dir()]
        except OSError:
            return
        entries = sorted(((p, t) for p, t in folders if p.name.startswith(_PREFIX)), key=lambda e: -e[1])
        for old, _ in entries[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
            old.with_name(old.name + ".lock").unlink(missing_ok=True)
        for left, written in folders:
            if left.name.startswith(_WRITING) and written < time.time() - _ABANDONED_S:
                shutil.rmtree(left, ignore_errors=True)
