"""API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 random bits, so a fast hash is enough (no password stretching):
nobody can guess a preimage, and a lookup by hash costs one index probe.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "cgt_"
# Payload on the change channel (tiles/listener.py) that tells servers tokens changed.
TOKENS_CHANGED = "__tokens__"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
