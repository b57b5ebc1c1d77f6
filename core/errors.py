"""The project's errors.

Every error Charter raises on purpose derives from :class:`CharterError` and carries a ``code``.
Two families matter to the user interface:

* :class:`KnownError` - the environment or the user's input failed and the user can act on it
  (wrong password, locked account, store locked or unreachable). The message names the next step
  and never contains a secret.
* anything else is our bug: it reaches the crash dialog with a copyable report.
"""

from __future__ import annotations


class CharterError(Exception):
    """Root of every error Charter raises on purpose."""

    code = "charter_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class KnownError(CharterError):
    """An error the user can act on; shown as a message, not as a crash."""

    code = "known_error"


class NotFound(KnownError):
    code = "not_found"


class AlreadyExists(KnownError):
    code = "already_exists"


class InvalidInput(KnownError):
    code = "invalid_input"


class InvalidTransition(KnownError):
    code = "invalid_transition"


class PermissionDenied(KnownError):
    code = "permission_denied"


class AuthenticationFailed(KnownError):
    """Wrong user name or password. Deliberately does not say which."""

    code = "authentication_failed"


class AccountLocked(KnownError):
    code = "account_locked"


class AccountDisabled(KnownError):
    code = "account_disabled"


class PasswordChangeRequired(KnownError):
    """Signed in with a one-time code: the user must choose a new password first."""

    code = "password_change_required"

    def __init__(self, message: str, *, username: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.username = username


class StorageUnavailable(KnownError):
    """The store cannot be opened, is locked, unwritable, unreachable or on an unsafe file system."""

    code = "storage_unavailable"


class MigrationRequired(StorageUnavailable):
    """The store's schema is behind this version of Charter and must be upgraded by a person."""

    code = "migration_required"


class StoreTooNew(StorageUnavailable):
    code = "store_too_new"


class ConcurrentChange(KnownError):
    """Someone else changed the record since it was read."""

    code = "concurrent_change"


class AuditTrailBroken(KnownError):
    code = "audit_trail_broken"


class Cancelled(KnownError):
    code = "cancelled"
