"""Redis (shared cache and limits), rate limits, load shedding, timeouts and circuit breakers."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class ResilienceSettings(BaseModel):
    redis_url: str | None = Field(
        None, description="redis://host:port/db: shared cache and rate limits; None: both local."
    )
    redis_timeout_ms: int = Field(
        50, ge=1, le=10_000, description="How long a Redis command may take before it is skipped."
    )
    cache_ttl_seconds: int = Field(300, ge=1, le=86_400, description="Cached answers expire after.")
    # The defaults are not validated (validate_default=False): they are known good, and checking
    # them would load `limits` (~40 ms) into every command, `fichas status` included.
    rate_limit_root: str = Field(
        "200/minute", validate_default=False, description="Per client address: / and others."
    )
    rate_limit_health: str = Field(
        "500/minute", validate_default=False, description="Per client address: /health."
    )
    rate_limit_read: str = Field(
        "12000/minute", validate_default=False, description="Per API key: reads."
    )
    rate_limit_write: str = Field(
        "6000/minute", validate_default=False, description="Per API key: writes."
    )
    rate_limit_admin: str = Field(
        "600/minute", validate_default=False, description="Per API key: /chaves."
    )
    rate_limit_auth_failures: str = Field(
        "20/minute",
        validate_default=False,
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

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator(
        "rate_limit_root", "rate_limit_health", "rate_limit_read", "rate_limit_write",
        "rate_limit_admin", "rate_limit_auth_failures",
    )  # fmt: skip
    @classmethod
    def _rate(cls, value: str) -> str:
        # Imported here, so that only a rate someone set costs the import.
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
