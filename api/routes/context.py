"""What a route handler receives: the request, who sent it, and the app's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request

from api.auth.guard import Authenticator
from api.auth.keys import Principal
from api.cache.responses import ResponseCache
from api.db.gateway import Database
from api.http.problems import Problem
from api.resilience.ratelimit import RateLimiter
from api.schemas.common import MAX_ID
from fichas.settings import Settings
from observability.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Services:
    """Built once per app by ``create_app``; shared by every request."""

    settings: Settings
    db: Database
    auth: Authenticator
    zone: ZoneInfo
    metrics: Metrics
    cache: ResponseCache
    limits: RateLimiter

    def today(self) -> date:
        """The factory's calendar day (due dates are local dates, not UTC ones)."""
        return datetime.now(self.zone).date()


ANONYMOUS = Principal(0, "anonymous", frozenset())


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    principal: Principal
    services: Services

    @property
    def db(self) -> Database:
        return self.services.db

    def path_id(self, name: str = "id") -> int:
        value: int = self.request.path_params[name]
        if value > MAX_ID:  # no row has it, and the databases would reject the parameter
            raise Problem(
                404, "not-found", "Resource not found", f"nothing at {self.request.url.path}"
            )
        return value
