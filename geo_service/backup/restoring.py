"""Restoring a backup into an empty workspace: all or nothing.

The whole backup is read and checked first (:func:`read_backup`); only then does the store load it, in
one transaction, and the accounts after it. Nothing the store or the accounts would refuse half-way is
left to them: a refused backup leaves the workspace as empty as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from geo_service.auth.accounts import AccountStore
from geo_service.backup.declarations import DeclarationsComparison, compare_declarations
from geo_service.backup.reading import Backup, read_backup
from geo_service.backup.rules import RulesComparison, compare_rules
from geo_service.errors import Conflict, InvalidInput
from geo_service.settings import Settings
from geo_service.siting import rules_path
from geo_service.store.base import Store

__all__ = ["Restored", "refuse_busy", "restore_backup"]


@dataclass(frozen=True)
class Restored:
    """What a restore put back: features per layer, and how its siting rules and layer declarations stand
    to this machine's."""

    counts: Mapping[str, int]
    rules: RulesComparison
    declarations: DeclarationsComparison

    @property
    def features(self) -> int:
        return sum(self.counts.values())

    @property
    def notices(self) -> list[str]:
        """What the one who restored should know, rules first (``zh / en``)."""
        return self.rules.notices + self.declarations.notices


def refuse_busy(store: Store) -> None:
    """``Conflict`` unless the store is empty (the store checks again as it loads)."""
    busy = [n for n in store.catalog if store.count(n) or store.history(n, limit=1)]
    if busy:
        raise Conflict(
            "只能恢复到空的工作空间", "A backup can be restored only into an empty workspace", layer=busy[0]
        )


def restore_backup(
    backup: Backup | bytes,
    store: Store,
    accounts: AccountStore | None = None,
    *,
    settings: Settings | None = None,
) -> Restored:
    """Restore a backup into an empty store (and its accounts), all or nothing.

    Parameters
    ----------
    backup
        A backup read with :func:`read_backup`, or the zip itself (read here, after the store is found
        empty: reading a city's backup takes seconds).
    settings
        The limits the zip is read within, and where this machine's siting rules are
        (``siting.rules_path``); the rules are compared, never written.
    """
    settings = settings or Settings()
    refuse_busy(store)
    if not isinstance(backup, Backup):
        backup = read_backup(backup, store.catalog, settings=settings)
    undeclared = [n for n in backup.layers if n not in store.catalog]
    if undeclared:  # read with declarations it carries, which the store was not opened with
        raise InvalidInput(
            f"工作空间未声明备份中的图层 {undeclared}",
            f"The workspace does not declare layers {undeclared} of the backup",
            layer=undeclared[0],
            field="file",
        )
    store.load_state(backup.layers, backup.history, backup.documents)
    if accounts is not None and backup.accounts is not None:
        accounts.load(backup.accounts)  # checked as it was read: its rows fit the tables
    return Restored(
        {name: len(feats) for name, feats in backup.layers.items()},
        compare_rules(backup.rules, rules_path(settings)),
        compare_declarations(backup, settings.layers_dir),
    )
