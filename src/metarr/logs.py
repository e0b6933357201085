"""Structured logging: JSON lines to a rotating file, a readable console, secrets redacted."""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from metarr.settings import Settings

__all__ = [
    "LOG_FILE_NAME",
    "REDACTED",
    "RequestIdTokens",
    "bind_request_id",
    "configure_logging",
    "current_request_id",
    "get_logger",
    "is_sensitive_key",
    "redact_secrets",
    "redact_text",
    "reset_request_id",
    "shutdown_logging",
]

REDACTED = "***"
LOG_FILE_NAME = "metarr.log"
_FILE_MAX_BYTES = 10 * 1024 * 1024
_FILE_BACKUPS = 5
# Our handlers are recognised by name so a second configure_logging() call
# (tests, reloads) replaces them instead of stacking duplicates.
_HANDLER_PREFIX = "metarr."
_MAX_REDACT_DEPTH = 8
_LEADING_KEYS = ("timestamp", "level", "logger", "event", "request_id")

_SENSITIVE_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "password",
        "passwd",
        "token",
        "secret",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
    }
)
_SENSITIVE_SUFFIXES = ("_api_key", "_apikey", "_password", "_passwd", "_token", "_secret")

_CREDENTIAL_NAME = r"(?:[a-z0-9]+[_-])*(?:api[_-]?key|passw(?:or)?d|token|secret|authorization)"
# `name=value` (query strings, logfmt) and `name: value` (headers, JSON/dict reprs);
# an auth scheme such as "Bearer" stays readable, the credential after it does not.
_KEY_VALUE_RE = re.compile(
    r"(\b" + _CREDENTIAL_NAME + r"[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|digest|token)\s+)?)"
    r"([^\s\"'&#,;}\]]+)",
    re.IGNORECASE,
)
# Credentials embedded in URLs: scheme://user:password@host
_URL_USERINFO_RE = re.compile(r"(://[^/\s:@]+:)([^/\s@]+)(@)")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# Libraries that are chatty at INFO/DEBUG; their warnings still come through.
_NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "hpack",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "multipart",
    "python_multipart",
    "watchfiles",
    "asyncio",
    "PIL",
    "rebulk",
    "guessit",
)

RequestIdTokens = Mapping[str, contextvars.Token[Any]]


def is_sensitive_key(key: str) -> bool:
    """Whether a field named `key` holds a credential (api_key, X-Api-Key, password...)."""
    norm = key.strip().lower().replace("-", "_")
    return norm in _SENSITIVE_KEYS or norm.endswith(_SENSITIVE_SUFFIXES)


def redact_text(text: str) -> str:
    """Mask credentials written inside free text, e.g. `?apikey=...` or `user:pw@host`."""
    text = _KEY_VALUE_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_USERINFO_RE.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


def _key_name(key: object) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("latin-1")
    return None


def _redact_value(value: object, depth: int = 0) -> object:
    if depth > _MAX_REDACT_DEPTH:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out: dict[object, object] = {}
        for key, item in value.items():
            name = _key_name(key)
            if name is not None and item is not None and is_sensitive_key(name):
                out[key] = REDACTED
            else:
                out[key] = _redact_value(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        # A (name, value) pair is how ASGI and httpx carry headers.
        if len(value) == 2:
            name = _key_name(value[0])
            if name is not None and is_sensitive_key(name):
                return (value[0], REDACTED)
        items = [_redact_value(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: mask values of credential-named keys and secrets inside strings."""
    for key, value in list(event_dict.items()):
        if value is None:
            continue
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


_TIMESTAMPER = structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp")


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn attaches an ANSI-coloured copy of its message as an `extra` field.
    event_dict.pop("color_message", None)
    return event_dict


# Run on records that come from plain stdlib loggers (uvicorn, libraries).
_FOREIGN_PRE_CHAIN: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _drop_color_message,
    _TIMESTAMPER,
)

# Run on events from our own structlog loggers before they reach the stdlib handlers.
_STRUCTLOG_CHAIN: tuple[Processor, ...] = (
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.PositionalArgumentsFormatter(),
    _TIMESTAMPER,
    structlog.processors.StackInfoRenderer(),
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
)

# Locals are left out of tracebacks: they are exactly where secrets hide.
_DICT_TRACEBACKS = structlog.processors.ExceptionRenderer(
    ExceptionDictTransformer(show_locals=False)
)


def _leading_keys_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Same column order on every JSON line makes the file easy to scan by eye.
    ordered = {key: event_dict[key] for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _json_formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_FOREIGN_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _DICT_TRACEBACKS,
            # Redaction runs after tracebacks are rendered so exception text is masked too.
            redact_secrets,
            _leading_keys_first,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def _console_formatter(*, colors: bool) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_FOREIGN_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(colors=colors),
        ],
    )


def _remove_our_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(_HANDLER_PREFIX):
            root.removeHandler(handler)
            handler.close()


def _quiet_noisy_loggers() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's own lines go through our formatters via the root logger.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        uv_logger = logging.getLogger(name)
        uv_logger.handlers.clear()
        uv_logger.propagate = True
    # The request middleware writes the access line (with request id, duration);
    # with no handlers and no propagation uvicorn skips formatting its own.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


def configure_logging(settings: Settings, *, console: bool = True) -> None:
    """Route stdlib and structlog logging to the JSON log file and (optionally) stderr."""
    root = logging.getLogger()
    _remove_our_handlers(root)

    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE_NAME,
        maxBytes=_FILE_MAX_BYTES,
        backupCount=_FILE_BACKUPS,
        encoding="utf-8",
    )
    file_handler.set_name(_HANDLER_PREFIX + "file")
    file_handler.setFormatter(_json_formatter())
    root.addHandler(file_handler)

    if console:
        stream = sys.stderr
        console_handler = logging.StreamHandler(stream)
        console_handler.set_name(_HANDLER_PREFIX + "console")
        if settings.log_json_console:
            console_handler.setFormatter(_json_formatter())
        else:
            colors = stream.isatty() and "NO_COLOR" not in os.environ
            console_handler.setFormatter(_console_formatter(colors=colors))
        root.addHandler(console_handler)

    root.setLevel(_LEVELS[settings.log_level])
    _quiet_noisy_loggers()

    # Third-party code calling structlog.get_logger() gets the same pipeline.
    structlog.configure(
        processors=list(_STRUCTLOG_CHAIN),
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        context_class=dict,
        cache_logger_on_first_use=False,
    )


def shutdown_logging() -> None:
    """Detach and close the handlers configure_logging() installed (flushes the file)."""
    _remove_our_handlers(logging.getLogger())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger writing through stdlib logger `name`."""
    # Built directly rather than via structlog.get_logger() so a module-level logger
    # behaves the same whether or not configure_logging() has run yet.
    return structlog.stdlib.BoundLogger(logging.getLogger(name), list(_STRUCTLOG_CHAIN), {})


def bind_request_id(request_id: str) -> RequestIdTokens:
    """Attach `request_id` to every log line in the current context; returns reset tokens."""
    return structlog.contextvars.bind_contextvars(request_id=request_id)


def reset_request_id(tokens: RequestIdTokens) -> None:
    """Undo a bind_request_id() call."""
    structlog.contextvars.reset_contextvars(**tokens)


def current_request_id() -> str | None:
    """The request id bound in the current context, if inside a request."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None
