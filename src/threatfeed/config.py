"""Settings from the environment, read in one place and validated at start.

Every ``THREATFEED_*`` variable the service understands is listed here, so an
operator can read this file to learn the whole surface.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from threatfeed.errors import ConfigError


def _data_dir(env: Mapping[str, str]) -> Path:
    if value := env.get("THREATFEED_DATA_DIR"):
        return Path(value).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "threatfeed"


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    rate_limit_per_minute: float
    rate_limit_burst: float
    bearer_ttl_seconds: float
    npm_changes_url: str = "https://replicate.npmjs.com/"
    """Base of the npm CouchDB replication feed; ``_changes`` is appended."""
    npm_registry_url: str = "https://registry.npmjs.org/"
    """Where npm packuments are read (tarball URLs come from the packuments as given)."""
    pypi_url: str = "https://pypi.org"
    """PyPI: XML-RPC at ``/pypi``, JSON at ``/pypi/<name>/<version>/json``."""
    max_archive_bytes: int = 100 * 1024 * 1024
    """Archives larger than this are recorded as too large, never downloaded whole."""
    npm_concurrency: int = 8
    pypi_concurrency: int = 4
    """At most this many requests in flight to one registry, from one process."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = _data_dir(env)
        database_url = (
            env.get("THREATFEED_DATABASE_URL") or f"sqlite:///{data_dir / 'threatfeed.db'}"
        )
        if not database_url.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                "THREATFEED_DATABASE_URL must be a sqlite:/// or postgresql:// URL, "
                f"got {database_url.split(':', 1)[0]!r}"
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=env.get("THREATFEED_SECRET_KEY") or _stored_secret(data_dir),
            rate_limit_per_minute=_positive_float(env, "THREATFEED_RATE_LIMIT_PER_MINUTE", 600),
            rate_limit_burst=_positive_float(env, "THREATFEED_RATE_LIMIT_BURST", 120),
            bearer_ttl_seconds=_positive_float(env, "THREATFEED_BEARER_TTL_SECONDS", 3600),
            npm_changes_url=_http_url(env, "THREATFEED_NPM_CHANGES_URL", cls.npm_changes_url),
            npm_registry_url=_http_url(env, "THREATFEED_NPM_REGISTRY_URL", cls.npm_registry_url),
            pypi_url=_http_url(env, "THREATFEED_PYPI_URL", cls.pypi_url),
            max_archive_bytes=_positive_int(
                env, "THREATFEED_MAX_ARCHIVE_BYTES", cls.max_archive_bytes
            ),
            npm_concurrency=_positive_int(env, "THREATFEED_NPM_CONCURRENCY", cls.npm_concurrency),
            pypi_concurrency=_positive_int(
                env, "THREATFEED_PYPI_CONCURRENCY", cls.pypi_concurrency
            ),
        )


def _stored_secret(data_dir: Path) -> str:
    """The signing secret of the embedded default, made once and kept beside the database."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
