"""Whole-workspace backups: layers with ids and versions, their declarations, history, documents (snow
plans, workspace metadata), the siting rule file, users and the audit log — in one zip of JSON files that
either store restores. A backup made before backups carried declarations restores as it did.

A backup made from the GeoPackage store restores into PostGIS and back, giving the same content. A
restore is all or nothing: the whole file is read and checked before anything is written.
"""

from geo_service.backup.declarations import DeclarationsComparison
from geo_service.backup.reading import Backup, read_backup
from geo_service.backup.restoring import Restored, restore_backup
from geo_service.backup.rules import RulesComparison
from geo_service.backup.writing import FORMAT, create_backup

__all__ = [
    "FORMAT",
    "Backup",
    "DeclarationsComparison",
    "Restored",
    "RulesComparison",
    "create_backup",
    "read_backup",
    "restore_backup",
]
