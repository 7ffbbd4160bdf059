"""``fichas loadtest`` for real: k6 against a real cluster, the table, summary.json and PNG.

No timing is asserted: the machine is shared. What is asserted is that k6 ran the PC sessions,
its samples were read, the report and chart were written, the SLO thresholds decide the exit
status, and the run's key is revoked afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy.engine import make_url

from loadtest.target import Target, own_cluster
from tests.support import row_count, throwaway_postgres

ENDPOINTS = {
    "GET /clientes?q=",
    "GET /clientes",
    "GET /clientes/{id}",
    "GET /producoes/tipos",
    "POST /pedidos",
    "POST /pedidos/{id}/status",
    "GET /pedidos/{id}/eventos",
    "GET /pedidos/{id}/ficha",
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, Path]]:
    data_dir = tmp_path_factory.mktemp("loadtest-cluster")
    with own_cluster(data_dir, 2, data_dir / "cluster.log") as running:
        yield running, data_dir / "admin.key"


def _loadtest(
    results: Path, *options: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FICHAS_")}
    return subprocess.run(
        [sys.executable, "-m", "fichas.cli", "loadtest", "--results", str(results), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _against(target: tuple[Target, Path], *options: str) -> list[str]:
    running, admin_key = target
    return ["--target", running.url, "--admin-key-file", str(admin_key), *options]


def _summary(results: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((results / "summary.json").read_text())
    return summary


def test_a_short_run_reports_per_endpoint_and_revokes_its_key(
    target: tuple[Target, Path], tmp_path: Path
) -> None:
    done = _loadtest(tmp_path, *_against(target, "--pcs", "4", "--duration", "5s"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SLO met" in done.stdout
    table = done.stdout[done.stdout.index("endpoint") :]
    for endpoint in [*ENDPOINTS, "TOTAL"]:
        assert f"\n{endpoint} " in table, table

    summary = _summary(tmp_path)
    assert summary["scenario"] == "pcs"
    assert summary["slo_met"] is True
    assert set(summary["endpoints"]) == ENDPOINTS
    assert summary["total"]["requests"] > 0
    assert summary["total"]["success_pct"] == 100.0
    # Every session: 3 status changes per pedido opened (sessions cut by the end aside).
    opened = summary["endpoints"]["POST /pedidos"]["requests"]
    assert summary["endpoints"]["POST /pedidos/{id}/status"]["requests"] >= 3 * (opened - 4)
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)
    assert json.loads((tmp_path / "k6-summary.json").read_text())["metrics"]["fichas_answered"]

    running, admin_key = target
    headers = {"Authorization": f"Bearer {admin_key.read_text().strip()}"}
    keys = httpx2.get(f"{running.url}/chaves", headers=headers).json()["items"]
    used = [k for k in keys if k["nome"].startswith("loadtest-pcs-")]
    assert used
    assert all(k["revogado_em"] is not None for k in used)


def test_a_missed_slo_fails_the_run_and_says_which(
    target: tuple[Target, Path], tmp_path: Path
) -> None:
    impossible = ["--slo-p95", "0.001ms", "--pcs", "2", "--duration", "2s"]
    done = _loadtest(tmp_path, *_against(target, *impossible))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SLO MISSED: http_req_duration{phase:full} p(95)<=0.001" in done.stdout
    assert _summary(tmp_path)["slo_met"] is False
    assert _summary(tmp_path)["broken_thresholds"] == ["http_req_duration{phase:full} p(95)<=0.001"]


def test_with_a_think_time_the_pcs_arrive_over_a_ramp_that_is_not_timed(
    target: tuple[Target, Path], tmp_path: Path
) -> None:
    # Each PC starts at a random moment of its first session (10 requests × 0.3 s): a 3 s ramp,
    # after which the 3 s at full load are timed.
    think = ["--pcs", "8", "--think", "0.3s", "--duration", "3s"]
    done = _loadtest(tmp_path, *_against(target, *think))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s in which the PCs arrived" in done.stdout
    summary = _summary(tmp_path)
    assert 1 <= summary["ramp_s"] <= 4
    assert summary["total"]["success_pct"] == 100.0
    k6_metrics = json.loads((tmp_path / "k6-summary.json").read_text())["metrics"]
    assert "http_req_duration{phase:full}" in k6_metrics  # what the latency thresholds judge
    assert 0 < summary["total"]["requests"] < k6_metrics["http_reqs"]["values"]["count"]


def test_capacity_steps_up_and_answers_how_many_pcs(
    target: tuple[Target, Path], tmp_path: Path
) -> None:
    steps = ["--scenario", "capacity", "--steps", "1,3", "--duration", "2s"]
    done = _loadtest(tmp_path, *_against(target, *steps))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = _summary(tmp_path)
    assert [step["pcs"] for step in summary["steps"]] == [1, 3]
    assert summary["pcs_at_slo"] == 3
    assert "3 PCs at SLO" in done.stdout
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG)


def test_chaos_kills_an_instance_and_redis_and_every_request_is_still_answered(
    tmp_path: Path,
) -> None:
    # Its own cluster and Redis: the load test must know their PIDs to kill them.
    chaos = ["--scenario", "chaos", "--redis", "--pcs", "8", "--duration", "20s"]
    done = _loadtest(tmp_path, *chaos)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chaos: kill -9 api-1" in done.stdout
    summary = _summary(tmp_path)
    assert summary["slo"]["success"] == 100.0
    assert summary["total"]["success_pct"] == 100.0
    labels = [e["label"] for e in summary["events"]]
    assert labels == ["kill -9 api-1", "kill -9 redis", "redis started"]
    seconds = [e["second"] for e in summary["events"]]
    assert seconds == sorted(seconds)
    assert 2 < seconds[0] < seconds[-1] < 18  # while the load ran


def test_its_own_cluster_runs_on_postgresql_and_redis_when_asked(tmp_path: Path) -> None:
    with throwaway_postgres("fichas_loadtest_own") as url:
        run = ["--database-url", url, "--redis", "--pcs", "4", "--duration", "5s"]
        done = _loadtest(tmp_path, *run, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        shown = make_url(url).render_as_string(hide_password=True)
        assert f"instances on demo data in {shown}, Redis on redis://" in done.stdout
        summary = _summary(tmp_path)
        assert summary["total"]["success_pct"] == 100.0
        opened = summary["endpoints"]["POST /pedidos"]["requests"]
        pedidos = row_count(url, "pedidos")
        # The demo data and what the run opened, all there; plus, at most, one pedido per PC
        # whose POST k6 cut off, unrecorded, at the end of the run.
        assert 3000 + opened <= pedidos <= 3000 + opened + 4
