"""Every knob of an API instance, read once from ``FICHAS_*`` environment variables.

Settings are validated when read, so a bad value stops the process at start-up with a message
naming the variable, instead of failing on the first request that needs it.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fichas.processes import host_and_port

LogLevel = Literal["debug", "info", "warning", "error"]
Network = IPv4Network | IPv6Network


class SettingsError(Exception):
    """Raised with a readable, multi-line explanation of every bad ``FICHAS_*`` value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FICHAS_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and key files.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite at <data_dir>/fichas.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    listen: str = Field("127.0.0.1:8000", description="host:port an instance binds to.")
    instance: str = Field(
        "api",
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="This instance's name: in its log lines and metrics (and in X-Served-By "
        "when debugging).",
    )
    log_level: LogLevel = "info"
    db_threads: int = Field(
        4, ge=1, le=64, description="PostgreSQL: threads (each) for reads and for writes."
    )
    db_busy_timeout_ms: int = Field(5000, ge=0, le=60_000)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    auth_cache_seconds: float = Field(
        5.0, ge=0, description="How long a verified key is trusted before it is looked up again."
    )
    timezone: str = Field(
        "America/Sao_Paulo", description="The factory's time zone: due dates are its local days."
    )
    page_size: int = Field(50, ge=1, le=200, description="Default page size of list endpoints.")
    redis_url: str | None = Field(
        None, description="redis://host:port/db: shared cache and rate limits; None: both local."
    )
    redis_timeout_ms: int = Field(
        50, ge=1, le=10_000, description="How long a Redis command may take before it is skipped."
    )
    cache_ttl_seconds: int = Field(300, ge=1, le=86_400, description="Cached answers expire after.")
    rate_limit_root: str = Field("200/minute", description="Per client address: / and others.")
    rate_limit_health: str = Field("500/minute", description="Per client address: /health.")
    rate_limit_read: str = Field("12000/minute", description="Per API key: reads.")
    rate_limit_write: str = Field("6000/minute", description="Per API key: writes.")
    rate_limit_admin: str = Field("600/minute", description="Per API key: /chaves.")
    rate_limit_auth_failures: str = Field(
        "20/minute",
        description="Per client address: requests refused 401; beyond, 429 without a lookup.",
    )
    max_in_flight: int = Field(
        256, ge=1, le=100_000, description="Requests an instance answers at once; beyond: 503."
    )
    request_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="An unanswered request is answered 504 after this."
    )
    breaker_threshold: int = Field(
        5, ge=1, le=1000, description="Failures in a row that open a circuit breaker."
    )
    breaker_cooldown_seconds: float = Field(
        5.0, gt=0, le=600, description="How long an open breaker refuses before one probe."
    )
    request_metrics: bool = Field(
        True, description="Count and time every request for /metrics (off: to measure the cost)."
    )
    debug_headers: bool = Field(
        False,
        description="Send X-Served-By (instances) and Via (proxy) on public answers: debugging.",
    )
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        [ip_network("127.0.0.1/32"), ip_network("::1/128")],
        description="Comma-separated networks whose X-Forwarded-For is believed (the proxy's).",
    )
    # Where Alertmanager sends alerts (observability/alertmanager.py, alerting/README.md).
    alert_pager_url: str | None = Field(None, description="Pager webhook for critical alerts.")
    alert_email_to: str | None = Field(None, description="Where warnings are e-mailed.")
    alert_email_from: str | None = Field(None, description="The sender of those e-mails.")
    alert_smtp_smarthost: str | None = Field(None, description="SMTP server, host:port (TLS).")
    alert_smtp_username: str | None = Field(None, description="SMTP login (none: no auth).")
    alert_smtp_password_file: Path | None = Field(
        None, description="A file holding the SMTP password (read by Alertmanager)."
    )
    # Backups (``fichas backup``, and the scheduler under ``fichas up``).
    backup_dir: Path | None = Field(
        None, description="Where snapshots are kept; default: <data_dir>/backups."
    )
    backup_interval: float = Field(
        3600.0,
        gt=0,
        description="Seconds between scheduled backups, or a duration: 90s, 30m, 1h, 1d.",
    )
    backup_offsite_dir: Path | None = Field(
        None, description="A second folder (e.g. a NAS mount) each verified snapshot is copied to."
    )
    backup_keep_hourly: int = Field(24, ge=0, description="Retention: newest per hour, last N.")
    backup_keep_daily: int = Field(14, ge=0, description="Retention: newest per day, last N.")
    backup_keep_weekly: int = Field(8, ge=0, description="Retention: newest per week, last N.")
    backup_keep_monthly: int = Field(12, ge=0, description="Retention: newest per month, last N.")
    # Continuous replication of the SQLite database with Litestream (backup/replication.py).
    replication: bool = Field(
        True, description="Run Litestream beside the cluster when the database is SQLite."
    )
    replica_url: str | None = Field(
        None,
        description="Where Litestream replicates to: a folder (another disk, a NAS mount) or an "
        "s3://, sftp://, gs://, abs://, webdav:// URL; default: <backup_dir>/replica. "
        "Credentials go in Litestream's own variables (AWS_ACCESS_KEY_ID...), not in the URL.",
    )
    idempotency_ttl: float = Field(
        86_400.0,
        gt=0,
        description="How long a POST's answer is kept for its Idempotency-Key to replay: seconds "
        "or a duration: 90s, 30m, 1h, 1d.",
    )

    @field_validator("backup_interval", "idempotency_ttl", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
        if isinstance(value, str) and value.strip()[-1:].lower() in units:
            number, unit = value.strip()[:-1], value.strip()[-1].lower()
            try:
                return float(number) * units[unit]
            except ValueError:
                raise ValueError("must be seconds or a duration like 90s, 30m, 1h, 1d") from None
        return value

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @property
    def cluster_dir(self) -> Path:
        """Where ``fichas up`` keeps its lock, status and generated configs."""
        return self.data_dir / "cluster"

    @property
    def status_file(self) -> Path:
        """What the running cluster's supervisor writes: its processes, for ``fichas status``."""
        return self.cluster_dir / "status.json"

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host_and_port(value)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [ip_network(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("replica_url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        # The URL is written into Litestream's configuration and shown by `fichas status`.
        if value is not None and "://" in value and urlsplit(value).password is not None:
            raise ValueError(
                "holds a password: give it to Litestream through its own environment variables "
                "(or an SFTP key file), not in the URL"
            )
        return value

    @field_validator(
        "rate_limit_root", "rate_limit_health", "rate_limit_read", "rate_limit_write",
        "rate_limit_admin", "rate_limit_auth_failures",
    )  # fmt: skip
    @classmethod
    def _rate(cls, value: str) -> str:
        # Imported here: the commands that load settings without serving should not pay ~60 ms.
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError("must be like 200/minute (per second, minute, hour or day)") from None
        return value

    @property
    def rate_limits(self) -> dict[str, str]:
        return {
            "root": self.rate_limit_root,
            "health": self.rate_limit_health,
            "read": self.rate_limit_read,
            "write": self.rate_limit_write,
            "admin": self.rate_limit_admin,
            "auth-failures": self.rate_limit_auth_failures,
        }

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'fichas.db'}"

    @property
    def host(self) -> str:
        return host_and_port(self.listen)[0]

    @property
    def port(self) -> int:
        return host_and_port(self.listen)[1]


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides); raise SettingsError listing every problem."""
    lines = [
        f"  {name}: unknown setting (a typo?)"
        for name in sorted(os.environ)
        if name.startswith("FICHAS_")
        and not name.startswith("FICHAS_TEST_")  # the test suite's own variables
        and name.removeprefix("FICHAS_").lower() not in Settings.model_fields
    ]
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines += [
            f"  FICHAS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
    if lines:
        raise SettingsError("invalid settings:\n" + "\n".join(lines))
    return settings
