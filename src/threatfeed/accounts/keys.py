"""API keys: 256 random bits, so one SHA-256 is a safe and fast way to store them.

A slow password hash would add nothing against guessing a 256-bit secret and
would cost every API request tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "tf_"
DISPLAY_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
"""Enough to tell keys apart in listings and revoke one, far too little to guess the rest."""


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
