"""Alertmanager's configuration for where it runs: alerting/alertmanager.yml with its
placeholder receivers replaced from the environment.

Alertmanager expands no environment variables, and the Debian package's version (0.25) reads
no webhook URL from a file, so the receivers are written in here. The placeholders are plain
values (``….invalid``) that keep the checked-in file valid for ``amtool check-config``; each is
replaced as a whole quoted YAML scalar by a JSON string, which YAML reads back unchanged
whatever characters the value holds. PyYAML is only a development dependency, hence text.

    python -m observability.alertmanager /etc/alertmanager/alertmanager.yml
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

ALERTING = Path(__file__).resolve().parents[1] / "alerting"
SOURCE = ALERTING / "alertmanager.yml"

# Environment variable → the placeholder it replaces; "" where the setting may be left out.
REQUIRED = {
    "FICHAS_ALERT_PAGER_URL": "http://pager.invalid/fichas",
    "FICHAS_ALERT_EMAIL_TO": "oncall@fichas.invalid",
    "FICHAS_ALERT_EMAIL_FROM": "alertmanager@fichas.invalid",
    "FICHAS_ALERT_SMTP_SMARTHOST": "smtp.fichas.invalid:587",
}
OPTIONAL = {
    # Without a username Alertmanager does not authenticate; the password is read by
    # Alertmanager from this file, so it never lands in the rendered configuration.
    "FICHAS_ALERT_SMTP_USERNAME": "auth_username",
    "FICHAS_ALERT_SMTP_PASSWORD_FILE": "auth_password_file",
}
TEMPLATES = "templates/notifications.tmpl"


class AlertmanagerConfigError(Exception):
    """The environment lacks a receiver setting, or the source file lost a placeholder."""


def render(environ: Mapping[str, str] = os.environ, source: Path = SOURCE) -> str:
    """The configuration text, ready for ``prometheus-alertmanager --config.file``."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise AlertmanagerConfigError(f"set {', '.join(missing)} (see alerting/README.md)")
    replacements = {
        json.dumps(placeholder): json.dumps(environ[name]) for name, placeholder in REQUIRED.items()
    }
    for name, field in OPTIONAL.items():
        replacements[f'{field}: ""'] = f"{field}: {json.dumps(environ.get(name, ''))}"
    # Alertmanager reads templates relative to its configuration file, which moves.
    replacements[f"- {TEMPLATES}"] = f"- {json.dumps(str(ALERTING / TEMPLATES))}"
    text = source.read_text()
    for placeholder, value in replacements.items():
        if placeholder not in text:
            raise AlertmanagerConfigError(f"{source} has no {placeholder} to replace")
        text = text.replace(placeholder, value)
    return text


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m observability.alertmanager OUTPUT", file=sys.stderr)
        return 2
    try:
        Path(argv[0]).write_text(render())
    except AlertmanagerConfigError as exc:
        print(f"alertmanager config: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
