"""Where Alertmanager sends alerts (observability/alertmanager.py, alerting/README.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class AlertSettings(BaseModel):
    alert_pager_url: str | None = Field(None, description="Pager webhook for critical alerts.")
    alert_email_to: str | None = Field(None, description="Where warnings are e-mailed.")
    alert_email_from: str | None = Field(None, description="The sender of those e-mails.")
    alert_smtp_smarthost: str | None = Field(None, description="SMTP server, host:port (TLS).")
    alert_smtp_username: str | None = Field(None, description="SMTP login (none: no auth).")
    alert_smtp_password_file: Path | None = Field(
        None, description="A file holding the SMTP password (read by Alertmanager)."
    )
