"""Alertmanager's configuration for where it runs: alerting/alertmanager.yml with its
placeholder receivers replaced from the environment, written with its notification templates
beside it (the configuration names them relative to itself, so it can be read anywhere: in the
cluster's folder, or in the volume the compose stack shares with the Alertmanager container).

Alertmanager expands no environment variables, and the Debian package's version (0.25) reads
no webhook URL from a file, so the receivers are written in here. The placeholders are plain
values (``….invalid``) that keep the checked-in file valid for ``amtool check-config``; each is
replaced as a whole quoted YAML scalar by a JSON string, which YAML reads back unchanged
whatever characters the value holds. Text rather than a YAML round trip: the rendered file keeps
the checked-in one's comments and order, which whoever reads it on the host needs.

    python -m observability.alertmanager /etc/alertmanager/alertmanager.yml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fichas.settings import Settings, load_settings
from observability.bundled import bundled

SOURCE = bundled("alerting/alertmanager.yml")

# Setting (FICHAS_<NAME> in the environment) → the placeholder it replaces.
REQUIRED = {
    "alert_pager_url": "http://pager.invalid/fichas",
    "alert_email_to": "oncall@fichas.invalid",
    "alert_email_from": "alertmanager@fichas.invalid",
    "alert_smtp_smarthost": "smtp.fichas.invalid:587",
}
OPTIONAL = {
    # Without a username Alertmanager does not authenticate; the password is read by
    # Alertmanager from this file, so it never lands in the rendered configuration.
    "alert_smtp_username": "auth_username",
    "alert_smtp_password_file": "auth_password_file",
}
TEMPLATES = "templates"  # beside the configuration, as alerting/alertmanager.yml names them


class AlertmanagerConfigError(Exception):
    """The settings lack a receiver, or the source file lost a placeholder."""


def render(settings: Settings, source: Path = SOURCE) -> str:
    """The configuration text, ready for ``prometheus-alertmanager --config.file``."""
    missing = [f"FICHAS_{name.upper()}" for name in REQUIRED if not getattr(settings, name)]
    if missing:
        raise AlertmanagerConfigError(f"set {', '.join(missing)} (see alerting/README.md)")
    replacements = {
        json.dumps(placeholder): json.dumps(getattr(settings, name))
        for name, placeholder in REQUIRED.items()
    }
    for name, field in OPTIONAL.items():
        value = getattr(settings, name)
        replacements[f'{field}: ""'] = f"{field}: {json.dumps(str(value or ''))}"
    text = source.read_text()
    for placeholder, value in replacements.items():
        if placeholder not in text:
            raise AlertmanagerConfigError(f"{source} has no {placeholder} to replace")
        text = text.replace(placeholder, value)
    return text


def write(settings: Settings, path: Path) -> Path:
    """The configuration at ``path``, and its templates beside it; ``path`` again."""
    text = render(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written, not copied: a copy would keep the installed files' modes, not this process's
    # umask (fichas/cli/private_files.py), and the rendered configuration is private.
    templates = path.parent / TEMPLATES
    templates.mkdir(exist_ok=True)
    for template in bundled(f"alerting/{TEMPLATES}").iterdir():
        (templates / template.name).write_bytes(template.read_bytes())
    path.write_text(text)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m observability.alertmanager OUTPUT", file=sys.stderr)
        return 2
    try:
        write(load_settings(), Path(argv[0]))
    except AlertmanagerConfigError as exc:
        print(f"alertmanager config: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
