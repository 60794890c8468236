"""Tokens and passwords never reach a log line, access lines included."""

from __future__ import annotations

import logging
import logging.config

from spatial_api.logs import redact, uvicorn_log_config


def test_redact_masks_tokens_and_passwords():
    assert redact("GET /map?token=cgt_abcDEF123456789&x=1 HTTP/1.1") == (
        "GET /map?token=***&x=1 HTTP/1.1"
    )
    assert redact("Authorization: Bearer cgt_abcDEF123456789") == "Authorization: Bearer cgt_***"
    assert redact("postgresql+psycopg://citygis:s3cr3t@127.0.0.1:55433/citygis") == (
        "postgresql+psycopg://citygis:***@127.0.0.1:55433/citygis"
    )
    assert redact("GET /collections/shelters/items?limit=10") == (
        "GET /collections/shelters/items?limit=10"
    )


def test_uvicorn_access_lines_are_masked(capsys):
    logging.config.dictConfig(uvicorn_log_config())
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/map?token=cgt_abcDEF123456789",
        "1.1",
        200,
    )
    logging.getLogger("uvicorn.error").error("db at postgresql://u:pw@h/db")
    out = capsys.readouterr()
    written = out.out + out.err
    assert "/map?token=***" in written and "cgt_abc" not in written
    assert "postgresql://u:***@h/db" in written and ":pw@" not in written
