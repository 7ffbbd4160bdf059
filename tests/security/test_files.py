"""Files are private (issue 17, point 4): whatever the umask of whoever starts ``fichas``, what it
and its children create — the data dir, the database and its -wal/-shm, the write lock, the
admin key, backups and manifests, the cluster folder (status, targets, rendered configs, Caddy's
CA keys), Prometheus's and Alertmanager's data — is the owner's alone (0700 dirs, 0600 files);
``fichas up`` warns once at start about what it finds more open, and says what to run.

The commands run with a permissive umask (000), so a mode left to the umask shows up as 0666 or
0777 here.
"""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fichas.cli import main, private_files
from fichas.settings import Settings
from tests.conftest import require_postgres
from tests.integration.test_cluster import running_cluster
from tests.integration.test_up_observability import RECEIVERS
from tests.support import throwaway_postgres

PERMISSIVE = 0o000
WARNING_ADVICE = "chmod -R go-rwx"


@contextmanager
def permissive_umask() -> Iterator[None]:
    """Every process started in the block inherits umask 000, as from a careless shell."""
    previous = os.umask(PERMISSIVE)
    try:
        yield
    finally:
        os.umask(previous)


def open_to_others(root: Path, *, besides: tuple[str, ...] = ()) -> list[str]:
    """Every directory and file under ``root`` with a bit for group or others (``path mode``);
    ``besides``: names of the test's own files, which fichas did not create."""
    found = []
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue  # a temporary file renamed meanwhile
            if name not in besides and not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{path.relative_to(root)} {stat.S_IMODE(mode):04o}")
    return found


def fichas(data_dir: Path, *argv: str, database_url: str | None = None) -> str:
    """Run ``fichas ARGV`` on ``data_dir`` (and SQLite there, unless ``database_url``) with
    umask 000; its output."""
    env = {**os.environ, "FICHAS_DATA_DIR": str(data_dir), "FICHAS_LOG_LEVEL": "warning"}
    env.pop("FICHAS_DATABASE_URL", None)
    if database_url is not None:
        env["FICHAS_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "fichas.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        umask=PERMISSIVE,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def newest_backup(data_dir: Path, timeout: float = 60) -> str:
    """The id of the newest backup's manifest, waiting for the first one if need be."""
    deadline = time.monotonic() + timeout
    while not (manifests := sorted((data_dir / "backups").glob("*.json"))):
        assert time.monotonic() < deadline, "no backup was taken"
        time.sleep(0.5)
    return manifests[-1].stem


def test_cli_commands_create_a_private_data_dir_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # not there yet: fichas creates it
    fichas(data_dir, "migrate")
    fichas(data_dir, "backup", "run")
    scratch = tmp_path / "scratch"
    fichas(data_dir, "restore", newest_backup(data_dir), "--to", str(scratch / "restored.db"))
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
    assert open_to_others(tmp_path) == []
    created = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert {"data/fichas.db", "data/backups/.lock", "scratch/restored.db"} <= created
    assert any(name.endswith(".sqlite.zst") for name in created)


def test_a_postgresql_backup_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """pg_dump writes the archive itself: it inherits the umask."""
    require_postgres()
    with throwaway_postgres(f"fichas_files_{uuid.uuid4().hex[:8]}") as url:
        fichas(tmp_path / "data", "migrate", database_url=url)
        fichas(tmp_path / "data", "backup", "run", database_url=url)
    assert list((tmp_path / "data" / "backups").glob("*.pgdump"))
    assert open_to_others(tmp_path) == []


def test_main_called_in_process_leaves_the_callers_umask_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FICHAS_DATABASE_URL", raising=False)
    monkeypatch.setenv("FICHAS_DATA_DIR", str(tmp_path / "data"))
    previous = os.umask(0o022)
    try:
        assert main(["migrate"]) == 0
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "fichas.db").stat().st_mode) == 0o600


def test_everything_a_cluster_creates_is_private_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real cluster with HTTPS (Caddy's internal CA writes its keys), Prometheus and
    Alertmanager, a write, the scheduler's first backup and one by hand; then a restore."""
    for name, value in RECEIVERS.items():
        monkeypatch.setenv(name, value)
    options = ("--instances", "2", "--tls", "--observability")
    with permissive_umask(), running_cluster(tmp_path, *options) as cluster:
        root = next((tmp_path / "cluster" / "caddy-data").rglob("local/root.crt"))
        verify = ssl.create_default_context(cafile=str(root))
        with cluster.client(verify=verify) as client:
            cliente = {"nome": "Privada", "cidade": "Blumenau", "uf": "SC"}
            created = client.post("/clientes", json=cliente)
            assert created.status_code == 201, created.text
        scheduled = newest_backup(tmp_path)  # the scheduler's, at start-up
        fichas(tmp_path, "backup", "run")
        by_hand = newest_backup(tmp_path)  # retention keeps one an hour: it replaces the other
        while_running = open_to_others(tmp_path, besides=("up.log",))
        names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert while_running == [], "\n".join(while_running)
    expected = {
        "admin.key",
        "fichas.db",
        "fichas.db-wal",
        "fichas.db-shm",
        "fichas.db-writer.lock",
        "backups/.lock",
        f"backups/{by_hand}.json",
        f"backups/{by_hand}.sqlite.zst",
        "cluster/status.json",
        "cluster/targets.json",
        "cluster/Caddyfile",
        "cluster/prometheus.yml",
        "cluster/alertmanager.yml",
        "prometheus/wal",
        "alertmanager",
    }
    assert expected <= names, expected - names
    assert any(name.endswith("local/root.key") for name in names)
    assert by_hand != scheduled

    fichas(tmp_path, "restore", by_hand)  # saves the database it replaces
    assert list(tmp_path.glob("fichas.db.before-restore-*"))
    assert open_to_others(tmp_path, besides=("up.log",)) == []  # and what stopping wrote


def test_up_warns_once_about_files_open_to_others_and_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    fichas(data_dir, "migrate")
    data_dir.chmod(0o755)
    (data_dir / "fichas.db").chmod(0o644)
    with running_cluster(data_dir, "--instances", "1"):
        pass
    log = (data_dir / "up.log").read_text().splitlines()
    warnings = [line for line in log if WARNING_ADVICE in line]
    assert len(warnings) == 1, warnings
    (warning,) = warnings
    assert f"{data_dir.resolve()} (0755)" in warning
    assert f"{data_dir.resolve() / 'fichas.db'} (0644)" in warning
    assert f"{WARNING_ADVICE} {data_dir.resolve()}" in warning

    subprocess.run(["chmod", "-R", "go-rwx", str(data_dir)], check=True)  # as the warning says
    with running_cluster(data_dir, "--instances", "1"):
        pass
    assert WARNING_ADVICE not in (data_dir / "up.log").read_text()


def test_the_warning_covers_backups_kept_elsewhere_and_counts_what_it_does_not_name(
    tmp_path: Path,
) -> None:
    data_dir, backup_dir = tmp_path / "data", tmp_path / "elsewhere"
    for directory in (data_dir, backup_dir):
        directory.mkdir(mode=0o700)
    (data_dir / "fichas.db").touch(mode=0o600)
    (data_dir / "backups").symlink_to(backup_dir)  # a link's own mode (0777) means nothing
    for n in range(7):
        (backup_dir / f"{n}.json").touch(mode=0o644)
    settings = Settings(data_dir=data_dir, backup_dir=backup_dir)
    line = private_files.warning(settings)
    assert line is not None
    assert f"{backup_dir.resolve() / '0.json'} (0644)" in line
    assert "and 2 more" in line
    assert line.endswith(f"{WARNING_ADVICE} {backup_dir.resolve()}")  # only what needs it
    assert f"{data_dir.resolve()} " not in line
    for n in range(7):
        (backup_dir / f"{n}.json").chmod(0o600)
    assert private_files.warning(settings) is None
