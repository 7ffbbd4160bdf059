"""alerting/alertmanager.yml: valid for amtool as checked in and once rendered from the
environment (observability.alertmanager), routing a critical alert to the pager and a warning
to e-mail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from observability.alertmanager import AlertmanagerConfigError, render, write
from tests.alerting.pager import alert_settings
from tests.alerting.rules import ALERTING

SOURCE = ALERTING / "alertmanager.yml"
SETTINGS = alert_settings(
    "https://sms-gateway.example.com/hook?token=a'b\"c",
    alert_smtp_smarthost="smtp.example.com:587",
    alert_smtp_username="alertmanager",
    alert_smtp_password_file=Path("/run/secrets/smtp-password"),
)


def amtool(*args: str) -> str:
    """Run ``amtool`` (Debian's prometheus-alertmanager package); fail the test unless it
    succeeds. Its output."""
    binary = shutil.which("amtool")
    if binary is None:
        pytest.fail("amtool is missing: install Debian's prometheus-alertmanager package")
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
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
    rendered = write(SETTINGS, tmp_path / "alertmanager.yml")
    assert "SUCCESS" in amtool("check-config", str(rendered))  # its templates found beside it
    assert (tmp_path / "templates" / "notifications.tmpl").exists()
    config = yaml.safe_load(rendered.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    [webhook] = receivers["pager"]["webhook_configs"]
    assert webhook["url"] == SETTINGS.alert_pager_url  # quotes and all
    [email] = receivers["email"]["email_configs"]
    assert (email["to"], email["from"], email["smarthost"]) == (
        SETTINGS.alert_email_to,
        SETTINGS.alert_email_from,
        SETTINGS.alert_smtp_smarthost,
    )
    assert email["auth_username"] == SETTINGS.alert_smtp_username
    assert email["auth_password_file"] == str(SETTINGS.alert_smtp_password_file)


def test_rendering_without_a_receiver_setting_says_which() -> None:
    with pytest.raises(AlertmanagerConfigError, match="FICHAS_ALERT_PAGER_URL"):
        render(SETTINGS.model_copy(update={"alert_pager_url": None}))
