"""The layer declarations a backup carries, against the ones installed on the machine restoring it.

Declarations belong to the installation (``<layers_dir>/*.yaml``, read at start), as the siting rules do.
A restore never changes an installed declaration: where the backup's differs, it says so and the
features are checked by this machine's. A layer this machine does not declare at all is brought back
by the command line, which installs the backup's declaration of it as a new file (never over one) before
the workspace is opened; the running service cannot add a layer, so the API refuses such a backup and
says how.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo_service.backup.reading import Backup
from geo_service.backup.writing import declaration_member
from geo_service.errors import InvalidInput

__all__ = ["DeclarationsComparison", "compare_declarations", "install_declarations", "remove_declarations"]


@dataclass(frozen=True)
class DeclarationsComparison:
    """How the backup's layer declarations stand to the installed ones."""

    carried: bool  # False: the backup was made before backups carried declarations
    layers_dir: str
    adopted: tuple[str, ...] = ()  # not declared here: restored by the backup's declaration, installed
    differing: tuple[str, ...] = ()  # declared here otherwise: this machine's kept

    @property
    def notices(self) -> list[str]:
        """What the one who restored should know (``zh / en``)."""
        out = []
        if not self.carried:
            out.append(
                "备份中没有图层声明（在备份携带声明之前做的），图层按本机的声明恢复 / the backup holds no layer "
                "declarations (made before backups carried them): its layers are restored as this machine "
                "declares them"
            )
        for name in self.adopted:
            where = Path(self.layers_dir) / f"{name}.yaml"
            out.append(
                f"本机未声明图层 {name}，已按备份中的声明装入 {where} / layer {name} was not declared here: "
                f"the backup's declaration of it was installed as {where}"
            )
        if self.differing:
            names = ", ".join(self.differing)
            members = ", ".join(declaration_member(n) for n in self.differing)
            out.append(
                f"备份中图层 {names} 的声明与本机的不同；本机声明（{self.layers_dir}）未改动，要素已按其检查。如需沿用"
                f"备份时的声明，从备份 zip 中取出 {members} 替换并重启服务 / the backup declares layers {names} "
                f"otherwise than this machine; the declarations in {self.layers_dir} are left as they are and "
                f"the features were checked by them: to keep the backup's, take {members} from the zip, put "
                "them there and restart the service"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "carried": self.carried,
            "layers_dir": self.layers_dir,
            "adopted": list(self.adopted),
            "differing": list(self.differing),
            "notices": self.notices,
        }


def compare_declarations(backup: Backup, layers_dir: Path) -> DeclarationsComparison:
    """How ``backup``'s declarations stand to those of ``layers_dir``."""
    return DeclarationsComparison(
        bool(backup.declarations), str(layers_dir), backup.adopted, backup.differing
    )


def install_declarations(backup: Backup, layers_dir: Path) -> tuple[Path, ...]:
    """Write the backup's declaration of each layer it ``adopted`` into ``layers_dir``, each as a new
    file ``<layer>.yaml``: all of them, or none (``InvalidInput`` naming the one that could not be)."""
    written: list[Path] = []
    try:
        for name in backup.adopted:
            written.append(_new_file(layers_dir / f"{name}.yaml", backup.declarations[name]))
    except BaseException:
        remove_declarations(written)
        raise
    return tuple(written)


def remove_declarations(paths: Sequence[Path]) -> None:
    """Take back declarations :func:`install_declarations` wrote (a restore that failed after)."""
    for p in paths:
        p.unlink(missing_ok=True)


def _new_file(path: Path, text: bytes) -> Path:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise InvalidInput(
            f"无法装入备份中图层的声明：{path} 已存在（其中声明的是另一个图层），不会覆盖",
            f"Cannot install the backup's layer declaration: {path} exists (declaring another layer) and is "
            "not overwritten",
            field="file",
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"无法写入图层声明 {path}（{exc.strerror or exc}）",
            f"Cannot write the layer declaration {path} ({exc.strerror or exc})",
            field="file",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
    except OSError as exc:  # a full disk: nothing half-written left behind
        path.unlink(missing_ok=True)
        raise InvalidInput(
            f"无法写入图层声明 {path}（{exc.strerror or exc}）",
            f"Cannot write the layer declaration {path} ({exc.strerror or exc})",
            field="file",
        ) from None
    return path
