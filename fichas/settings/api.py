"""How an API instance serves: where it listens, what it accepts, what it logs."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from fichas.processes import host_and_port
from fichas.settings.values import Duration, Network

LogLevel = Literal["debug", "info", "warning", "error"]
# auto: lines for a person when the output is a terminal, JSON for machines when it is not.
LogFormat = Literal["auto", "console", "json"]


class ApiSettings(BaseModel):
    listen: str = Field("127.0.0.1:8000", description="host:port an instance binds to.")
    instance: str = Field(
        "api",
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="This instance's name: in its log lines and metrics (and in X-Served-By "
        "when debugging).",
    )
    log_level: LogLevel = "info"
    log_format: LogFormat = Field(
        "auto",
        description="console: one short line per event, for people; json: one object per "
        "line, for journald, Docker, Loki; auto: console on a terminal, else json.",
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    auth_cache_seconds: float = Field(
        5.0, ge=0, description="How long a verified key is trusted before it is looked up again."
    )
    timezone: str = Field(
        "America/Sao_Paulo", description="The factory's time zone: due dates are its local days."
    )
    page_size: int = Field(50, ge=1, le=200, description="Default page size of list endpoints.")
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
    idempotency_ttl: Duration = Field(
        86_400.0,
        gt=0,
        description="How long a POST's answer is kept for its Idempotency-Key to replay: seconds "
        "or a duration: 90s, 30m, 1h, 1d.",
    )

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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def host(self) -> str:
        return host_and_port(self.listen)[0]

    @property
    def port(self) -> int:
        return host_and_port(self.listen)[1]
