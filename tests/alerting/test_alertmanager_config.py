"""alerting/alertmanager.yml: valid for amtool as checked in and once rendered from the
environment (observability.alertmanager), routing a critical alert to the pager and a warning
to e-mail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from observability.alertmanager import REQUIRED, AlertmanagerConfigError, render
from tests.alerting.rules import ALERTING

SOURCE = ALERTING / "alertmanager.yml"
ENVIRONMENT = {
    "FICHAS_ALERT_PAGER_URL": "https://sms-gateway.example.com/hook?token=a'b\"c",
    "FICHAS_ALERT_EMAIL_TO": "oncall@example.com",
    "FICHAS_ALERT_EMAIL_FROM": "alertmanager@example.com",
    "FICHAS_ALERT_SMTP_SMARTHOST": "smtp.example.com:587",
    "FICHAS_ALERT_SMTP_USERNAME": "alertmanager",
    "FICHAS_ALERT_SMTP_PASSWORD_FILE": "/run/secrets/smtp-password",
}


def amtool(*args: str) -> str:
    """Run ``amtool`` (Debian's prometheus-alertmanager package); fail the test unless it
    succeeds. Its output."""
    binary = shutil.which("amtool")
    if binary is None:
        pytest.fail("amtool is missing: install Debian's prometheus-alertmanager package")
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_amtool_accepts_the_checked_in_configuration() -> None:
    checked = amtool("check-config", str(SOURCE))
    assert "SUCCESS" in checked
    assert "1 templates" in checked  # the notification templates parse too


@pytest.mark.parametrize(("severity", "receiver"), [("critical", "pager"), ("warning", "email")])
def test_alerts_route_by_severity(severity: str, receiver: str) -> None:
    amtool(
        "config", "routes", "test", f"--config.file={SOURCE}", f"--verify.receivers={receiver}",
        "alertname=FichasAllInstancesDown", f"severity={severity}", "instance=api-1",
    )  # fmt: skip


def test_rendered_configuration_carries_the_environment(tmp_path: Path) -> None:
    rendered = tmp_path / "alertmanager.yml"
    rendered.write_text(render(ENVIRONMENT))
    assert "SUCCESS" in amtool("check-config", str(rendered))  # templates found from anywhere
    config = yaml.safe_load(rendered.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    [webhook] = receivers["pager"]["webhook_configs"]
    assert webhook["url"] == ENVIRONMENT["FICHAS_ALERT_PAGER_URL"]  # quotes and all
    [email] = receivers["email"]["email_configs"]
    assert (email["to"], email["from"], email["smarthost"]) == (
        ENVIRONMENT["FICHAS_ALERT_EMAIL_TO"],
        ENVIRONMENT["FICHAS_ALERT_EMAIL_FROM"],
        ENVIRONMENT["FICHAS_ALERT_SMTP_SMARTHOST"],
    )
    assert email["auth_username"] == ENVIRONMENT["FICHAS_ALERT_SMTP_USERNAME"]
    assert email["auth_password_file"] == ENVIRONMENT["FICHAS_ALERT_SMTP_PASSWORD_FILE"]


def test_rendering_without_a_receiver_setting_says_which() -> None:
    with pytest.raises(AlertmanagerConfigError, match="FICHAS_ALERT_PAGER_URL"):
        render({name: "x" for name in REQUIRED if name != "FICHAS_ALERT_PAGER_URL"})
