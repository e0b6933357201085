"""The error tree, named after what the caller should do next."""

from __future__ import annotations


class MetarrError(Exception):
    """Base of every error Metarr raises on purpose."""

    code = "error"


class InvalidInput(MetarrError):
    """The caller sent something unusable; `field` names the offending input."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(MetarrError):
    """The thing asked for does not exist."""

    code = "not_found"


class Conflict(MetarrError):
    """The request clashes with the current state (duplicate, busy...)."""

    code = "conflict"


class FieldLocked(Conflict):
    """A person locked this field; automation must not change it."""

    code = "field_locked"


class ServiceUnavailable(MetarrError):
    """A dependency (database, provider, player) is down: retry later."""

    code = "service_unavailable"


class AuthenticationFailed(MetarrError):
    """Credentials were refused: ask for new ones, do not retry."""

    code = "authentication_failed"
