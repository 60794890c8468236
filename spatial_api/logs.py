"""No secrets in the logs: tokens in query strings (the map's `?token=` links) and
passwords in database URLs are masked before any handler writes a record."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_SECRETS = (
    (re.compile(r"(?i)\b(token|api_key|key)=[^&\s\"']+"), r"\1=***"),
    (re.compile(r"\bcgt_[A-Za-z0-9_\-]{8,}"), "cgt_***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with the filter on its handlers (access lines too)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactSecrets}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    return config
