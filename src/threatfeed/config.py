"""Settings from the environment, read in one place and validated at start.

Every ``THREATFEED_*`` variable the service understands is listed here, so an
operator can read this file to learn the whole surface.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from threatfeed.errors import ConfigError

N = TypeVar("N", int, float)


def _data_dir(env: Mapping[str, str]) -> Path:
    if value := env.get("THREATFEED_DATA_DIR"):
        return Path(value).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "threatfeed"


def _number(
    env: Mapping[str, str],
    name: str,
    default: N,
    convert: Callable[[str], N],
    *,
    zero: bool = False,
) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name} must be {'' if zero else 'strictly '}positive, got {raw!r}")
    return value


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    rate_limit_per_minute: float
    rate_limit_burst: float
    bearer_ttl_seconds: float
    npm_changes_url: str = "https://replicate.npmjs.com/registry/"
    """Base of the npm CouchDB replication feed; ``_changes`` is appended (npm moved it
    under ``/registry/`` in its 2025 replication changes)."""
    npm_registry_url: str = "https://registry.npmjs.org/"
    """Where npm packuments are read (tarball URLs come from the packuments as given)."""
    pypi_url: str = "https://pypi.org"
    """PyPI: XML-RPC at ``/pypi``, JSON at ``/pypi/<name>/<version>/json``."""
    max_archive_bytes: int = 100 * 1024 * 1024
    """Archives larger than this are recorded as too large, never downloaded whole."""
    npm_concurrency: int = 8
    pypi_concurrency: int = 4
    """At most this many requests in flight to one registry, from one process."""
    auth_cache_seconds: float = 5.0
    """How long a verified token is trusted without asking the database again: the longest
    a revocation made by another process (the CLI) takes to reach this server."""
    queue: str = "embedded"
    """``embedded`` (the jobs table, worked inside ``threatfeed serve``) or ``procrastinate``
    (PostgreSQL only; ``threatfeed worker`` on any number of machines)."""
    watch: bool = True
    """Whether ``threatfeed serve`` runs the registry watchers (``THREATFEED_WATCH=0``: no)."""
    workers: int = 1
    """Worker threads ``threatfeed serve`` runs on the embedded queue (0: none)."""
    poll_seconds: float = 30.0
    """Pause between two polls of a registry that is caught up."""
    lease_seconds: float = 300.0
    """How long a worker holds a job before another may take it over (after a crash)."""
    backlog_days: float = 7.0
    """Versions first seen when already older than this are not downloaded (a packument
    lists every version a package ever had)."""
    job_retention_hours: float = 24.0
    """Done jobs older than this are deleted by the sweep (failed ones are kept)."""

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
            rate_limit_per_minute=_number(env, "THREATFEED_RATE_LIMIT_PER_MINUTE", 600.0, float),
            rate_limit_burst=_number(env, "THREATFEED_RATE_LIMIT_BURST", 120.0, float),
            bearer_ttl_seconds=_number(env, "THREATFEED_BEARER_TTL_SECONDS", 3600.0, float),
            npm_changes_url=_http_url(env, "THREATFEED_NPM_CHANGES_URL", cls.npm_changes_url),
            npm_registry_url=_http_url(env, "THREATFEED_NPM_REGISTRY_URL", cls.npm_registry_url),
            pypi_url=_http_url(env, "THREATFEED_PYPI_URL", cls.pypi_url),
            max_archive_bytes=_number(
                env, "THREATFEED_MAX_ARCHIVE_BYTES", cls.max_archive_bytes, int
            ),
            npm_concurrency=_number(env, "THREATFEED_NPM_CONCURRENCY", cls.npm_concurrency, int),
            pypi_concurrency=_number(env, "THREATFEED_PYPI_CONCURRENCY", cls.pypi_concurrency, int),
            auth_cache_seconds=_number(
                env, "THREATFEED_AUTH_CACHE_SECONDS", cls.auth_cache_seconds, float, zero=True
            ),
            queue=_choice(env, "THREATFEED_QUEUE", cls.queue, ("embedded", "procrastinate")),
            watch=_choice(env, "THREATFEED_WATCH", "1", ("0", "1")) == "1",
            workers=_number(env, "THREATFEED_WORKERS", cls.workers, int, zero=True),
            poll_seconds=_number(env, "THREATFEED_POLL_SECONDS", cls.poll_seconds, float),
            lease_seconds=_number(env, "THREATFEED_LEASE_SECONDS", cls.lease_seconds, float),
            backlog_days=_number(env, "THREATFEED_BACKLOG_DAYS", cls.backlog_days, float),
            job_retention_hours=_number(
                env, "THREATFEED_JOB_RETENTION_HOURS", cls.job_retention_hours, float
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
