"""Backups that restore: one encrypted archive holding a consistent database dump and the
keys the database cannot live without (the service signing key, the PIN wrap key).

Exception hierarchy::

    BackupError                  a backup cannot be made or taken back; the message says why
    ├── NotABackup               not an archive of ours, or damaged (a chunk fails to open)
    ├── WrongPassphrase          the passphrase does not open the archive
    ├── ToolMismatch             pg_dump / pg_restore missing or of another major version
    └── TargetNotEmpty           restoring would overwrite a database or key (use --yes)
"""

from __future__ import annotations

__all__ = ["BackupError", "NotABackup", "TargetNotEmpty", "ToolMismatch", "WrongPassphrase"]


class BackupError(Exception):
    """A backup cannot be made or restored."""


class NotABackup(BackupError):
    """The file is not a mynagate backup, or it is damaged."""


class WrongPassphrase(BackupError):
    """The passphrase does not open the archive."""


class ToolMismatch(BackupError):
    """pg_dump or pg_restore is missing or does not match the server's major version."""


class TargetNotEmpty(BackupError):
    """The restore would overwrite data that is there."""
