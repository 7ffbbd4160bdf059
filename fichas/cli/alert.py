"""``fichas alert test [--severity critical|warning]``: the alert path tried end to end, without
breaking anything — a synthetic alert sent to the cluster's Alertmanager (``fichas up
--observability``), routed as a real one of that severity would be, and the answer in one line:
which receiver took it, and whether Alertmanager delivered it or could not (an SMTP server down,
a webhook refusing), which otherwise only its own log says.

Delivery is read from Alertmanager's own counters of requests to each integration
(``alertmanager_notification_requests_total`` and ``…_failed_total``), before and after: its
``notifications`` counters would not do, a notification counting as failed only once Alertmanager
has given up retrying it, minutes later; the alert is resolved at the end, so that
the pager is not called again for it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

ALERT = "FichasTestAlert"


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("alert", help="try the alert path: send a test alert")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    testing = actions.add_parser(
        "test", help="send a synthetic alert through the running Alertmanager, report delivery"
    )
    testing.add_argument(
        "--severity",
        choices=("critical", "warning"),
        default="critical",
        help="route it as a page (critical, the default) or as a ticket (warning)",
    )
    testing.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the delivery (Alertmanager groups for 10 s, 30 s for warnings)",
    )
    testing.set_defaults(run=_test)


def _request(url: str, body: object | None = None) -> Any:
    """GET (or POST ``body`` as JSON to) Alertmanager; the JSON answer, or the text of /metrics."""
    import json
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the loopback URL the supervisor wrote
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        text = answer.read().decode()
    return json.loads(text) if answer.headers.get_content_type() == "application/json" else text


def _alert(severity: str, ends: str | None = None) -> list[dict[str, Any]]:
    labels = {"alertname": ALERT, "severity": severity, "instance": "fichas-alert-test"}
    annotations = {
        "summary": "A test alert sent by `fichas alert test`: nothing is wrong",
        "description": "Sent on purpose to check that alerts reach whoever is on call.",
        "runbook_url": "docs/OPERATIONS.md#alerts-and-runbooks",
        "dashboard_url": "",
    }
    alert: dict[str, Any] = {"labels": labels, "annotations": annotations}
    if ends is not None:
        alert["endsAt"] = ends
    return [alert]


def _integrations(alertmanager: str) -> dict[str, list[str]]:
    """Each receiver's integrations (``webhook``, ``email``…), from the configuration it runs."""
    import yaml

    config = yaml.safe_load(_request(f"{alertmanager}/api/v2/status")["config"]["original"])
    return {
        receiver["name"]: [key.removesuffix("_configs") for key in receiver if key != "name"]
        for receiver in config["receivers"]
    }


def _counts(alertmanager: str, integration: str) -> tuple[float, float]:
    """Requests made and failed so far to ``integration`` (each retry is one)."""
    attempted = failed = 0.0
    for line in _request(f"{alertmanager}/metrics").splitlines():
        name, _, rest = line.partition("{")
        if f'integration="{integration}"' not in rest:
            continue
        if name == "alertmanager_notification_requests_total":
            attempted += float(line.rsplit(" ", 1)[1])
        elif name == "alertmanager_notification_requests_failed_total":
            failed += float(line.rsplit(" ", 1)[1])
    return attempted, failed


def _test(args: argparse.Namespace) -> int:
    import json
    import time
    from datetime import UTC, datetime

    from fichas.cli.running import status_file

    if (path := status_file()) is None:
        return 2
    companions = json.loads(path.read_text()).get("companions", [])
    found = [c["url"] for c in companions if c["name"] == "alertmanager"]
    if not found:
        print(
            "fichas: this cluster runs no Alertmanager: start it with `fichas up "
            "--observability`, with the FICHAS_ALERT_* receivers set (docs/OPERATIONS.md)",
            file=sys.stderr,
        )
        return 2
    alertmanager = found[0]
    _request(f"{alertmanager}/api/v2/alerts", _alert(args.severity))
    receivers: list[str] = []
    deadline = time.monotonic() + 5
    while not receivers and time.monotonic() < deadline:
        found = _request(f"{alertmanager}/api/v2/alerts?filter=alertname%3D%22{ALERT}%22")
        receivers = [r["name"] for alert in found for r in alert["receivers"]]
        time.sleep(0.2)
    if not receivers:
        print(f"fichas: Alertmanager at {alertmanager} did not take the alert", file=sys.stderr)
        return 1
    receiver = receivers[0]
    integration = _integrations(alertmanager)[receiver][0]
    before = _counts(alertmanager, integration)
    print(
        f"sent a {args.severity} test alert to Alertmanager at {alertmanager}: routed to "
        f"receiver {receiver} ({integration}); waiting for the delivery…",
        flush=True,
    )
    started = time.monotonic()
    outcome = None
    try:
        while outcome is None and time.monotonic() - started < args.timeout:
            time.sleep(0.5)
            attempted, failed = _counts(alertmanager, integration)
            if failed > before[1]:
                outcome = "failed"
            elif attempted > before[0]:  # a request made, and not failed: it was taken
                outcome = "delivered"
    finally:  # resolved whatever happened: the receiver hears of it once more at most
        now = datetime.now(UTC).isoformat()
        _request(f"{alertmanager}/api/v2/alerts", _alert(args.severity, ends=now))
    took = time.monotonic() - started
    if outcome == "delivered":
        print(f"delivered to {receiver} ({integration}) after {took:.1f} s")
        return 0
    if outcome == "failed":
        print(
            f"fichas: Alertmanager could NOT deliver it to {receiver} ({integration}): "
            f"check that receiver's FICHAS_ALERT_* settings and that its server answers; "
            "Alertmanager's log (in fichas up's output) says why",
            file=sys.stderr,
        )
        return 1
    print(
        f"fichas: no delivery attempt within {args.timeout:.0f} s; is Alertmanager's routing "
        "changed? (docs/OPERATIONS.md)",
        file=sys.stderr,
    )
    return 1
