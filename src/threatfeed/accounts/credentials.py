"""The client's stored credentials: ``$XDG_CONFIG_HOME/threatfeed/credentials.json``.

The file holds a live API key, so it is created with mode 0600 from the start
(never widened and narrowed later) and replaced atomically, so a reader never
sees half a file. ``THREATFEED_SERVER`` and ``THREATFEED_API_KEY`` override it
field by field, for CI jobs and containers that have no home folder.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from threatfeed.accounts.bearer import is_bearer
from threatfeed.accounts.errors import InvalidInput
from threatfeed.accounts.keys import API_KEY_PREFIX
from threatfeed.errors import ThreatfeedError

SERVER_ENV = "THREATFEED_SERVER"
API_KEY_ENV = "THREATFEED_API_KEY"


@dataclass(frozen=True, slots=True)
class Credentials:
    server: str | None
    api_key: str | None
    server_source: str | None
    """Where ``server`` came from: the environment variable's name or the file's path."""
    api_key_source: str | None


def credentials_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative value.
    config = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return config / "threatfeed" / "credentials.json"


def check_server(server: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"the server must be an http:// or https:// URL, got {server!r}")
    return server


def check_api_key(api_key: str) -> str:
    if is_bearer(api_key):
        raise InvalidInput("that is a bearer token; log in with the API key it came from")
    if not api_key.startswith(API_KEY_PREFIX) or not api_key.isascii() or not api_key.isprintable():
        raise InvalidInput(f"an API key starts with {API_KEY_PREFIX!r} and is one printable word")
    if any(char.isspace() for char in api_key):
        raise InvalidInput("an API key contains no spaces")
    return api_key


def save(path: Path, server: str, api_key: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"server": server, "api_key": api_key}, handle)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _read_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ThreatfeedError(
            f"cannot read {path} ({exc}); run `threatfeed auth login` again"
        ) from None
    if not isinstance(data, dict):
        raise ThreatfeedError(f"{path} is not a credentials file; run `threatfeed auth login`")
    return {key: value for key, value in data.items() if isinstance(value, str) and value}


def load(env: Mapping[str, str]) -> Credentials:
    path = credentials_path(env)
    stored = _read_file(path)

    def pick(env_name: str, field: str) -> tuple[str | None, str | None]:
        if overridden := env.get(env_name, "").strip():
            return overridden, env_name
        if field in stored:
            return stored[field], str(path)
        return None, None

    server, server_source = pick(SERVER_ENV, "server")
    api_key, api_key_source = pick(API_KEY_ENV, "api_key")
    return Credentials(server, api_key, server_source, api_key_source)
