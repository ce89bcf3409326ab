"""The siting rules a backup carries, against the rule file installed on the machine restoring it.

The rule file belongs to the installation, not to a workspace: it lies beside the layer declarations
(``<layers_dir>/rules/siting.yaml``), the city edits it there, and every workspace served from that
folder is checked by it. A restore therefore never writes it; it says whether the rules the workspace
was kept under differ, and which, so that an administrator can put the backup's copy in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from geo_service.backup.writing import RULES_MEMBER

__all__ = ["RulesComparison", "compare_rules"]

Status = Literal["same", "different", "not-in-backup", "none-installed"]


@dataclass(frozen=True)
class RulesComparison:
    """How the backup's siting rules stand to the installed ones (rule ids in each list)."""

    status: Status
    installed: str  # where this machine's rule file is
    only_in_backup: tuple[str, ...] = ()
    only_installed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def notices(self) -> list[str]:
        """What the one who restored should know (``zh / en``); nothing when the rules are the same."""
        where = self.installed
        if self.status == "not-in-backup":
            return [
                f"备份中没有选址规则（在备份携带规则之前做的），无法比较；本机按 {where} 检查 / the backup holds "
                f"no siting rules (made before backups carried them): sites are checked by {where}"
            ]
        if self.status == "none-installed":
            return [
                f"本机没有选址规则文件 {where}；可从备份 zip 中取出 {RULES_MEMBER} 放到那里 / this machine "
                f"has no rule file {where}: {RULES_MEMBER} can be taken from the backup zip and put there"
            ]
        if self.status == "same":
            return []
        parts_zh, parts_en = [], []
        for ids, zh, en in (
            (self.only_in_backup, "仅备份中有", "only in the backup"),
            (self.only_installed, "仅本机有", "only on this machine"),
            (self.changed, "内容不同", "changed"),
        ):
            if ids:
                parts_zh.append(f"{zh} {'、'.join(ids)}")
                parts_en.append(f"{en}: {', '.join(ids)}")
        said_zh = f"（{'；'.join(parts_zh)}）" if parts_zh else ""
        said_en = f" ({'; '.join(parts_en)})" if parts_en else ""
        return [
            f"备份中的选址规则与本机的不同{said_zh}；本机规则 {where} 未改动，如需沿用备份时的规则，从备份 zip "
            f"中取出 {RULES_MEMBER} 替换它 / the backup's siting rules differ from this machine's{said_en}; "
            f"{where} is left as it is: to keep the rules of the backup, take {RULES_MEMBER} from the zip "
            "and put it there"
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "installed": self.installed,
            "only_in_backup": list(self.only_in_backup),
            "only_installed": list(self.only_installed),
            "changed": list(self.changed),
            "notices": self.notices,
        }


def _by_id(text: bytes) -> dict[str, Any] | None:
    """The rules of a rule file by id; None when it cannot be read as one."""
    try:
        raw = yaml.safe_load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules"), list):
        return None
    rules = {str(r.get("id")): r for r in raw["rules"] if isinstance(r, Mapping)}
    return {"": {k: v for k, v in raw.items() if k != "rules"}, **rules}  # "" : the file's other keys


def compare_rules(backup: bytes | None, installed: Path) -> RulesComparison:
    """Compare the rule file a backup carries with ``installed``: the same when the rules read the same
    (comments and layout aside); else the ids added, missing and changed, where both can be read."""
    if backup is None:
        return RulesComparison("not-in-backup", str(installed))
    try:
        here = installed.read_bytes()
    except FileNotFoundError:
        return RulesComparison("none-installed", str(installed))
    theirs, ours = _by_id(backup), _by_id(here)
    if backup == here or (theirs is not None and theirs == ours):
        return RulesComparison("same", str(installed))
    if theirs is None or ours is None:
        return RulesComparison("different", str(installed))
    return RulesComparison(
        "different",
        str(installed),
        only_in_backup=tuple(sorted(k for k in theirs.keys() - ours.keys())),
        only_installed=tuple(sorted(k for k in ours.keys() - theirs.keys())),
        changed=tuple(sorted(k or "(header)" for k in theirs.keys() & ours.keys() if theirs[k] != ours[k])),
    )
