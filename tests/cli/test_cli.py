"""The ``fichas`` command: every verb documented, keys managed, demo data loaded once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.auth.keys import ensure_admin_key
from api.db.engine import build_engine
from api.db.tables import clientes, pedido_eventos, pedidos, tipos_producao
from api.domain.busca import folded
from api.domain.documento import normalize_documento
from backup import manifest
from fichas.cli import VERBS, build_parser, main
from fichas.processes import free_port
from fichas.settings import Settings
from tests.support import migrated_engine


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["up"],
        ["status"],
        ["top"],
        ["serve"],
        ["migrate"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["demo-data"],
        ["loadtest"],
        ["backup"],
        ["backup", "run"],
        ["backup", "list"],
        ["backup", "verify"],
        ["backup", "prune"],
        ["restore"],
        ["alert"],
        ["alert", "test"],
    ],
)
def test_every_verb_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*argv, "--help"])
    assert exited.value.code == 0
    assert "usage: fichas" in capsys.readouterr().out
    assert len(VERBS) == 11


def test_commands_on_an_unmigrated_database_say_what_to_run(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list"]) == 2
    assert "run `fichas migrate`" in capsys.readouterr().err


def test_bad_settings_exit_2_with_the_variable_named(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FICHAS_DB_THREADS", "lots")
    assert main(["migrate"]) == 2
    assert "FICHAS_DB_THREADS" in capsys.readouterr().err


def test_keys_lifecycle(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "migrated from empty" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "already at revision" in capsys.readouterr().out

    assert main(["keys", "create", "pc-corte", "--scope", "read"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    assert token.startswith("fichas_")
    assert main(["keys", "create", "pc-corte"]) == 1
    assert "already exists" in capsys.readouterr().out

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pc-corte" in listing
    assert token.split("_", 2)[2] not in listing

    assert main(["keys", "revoke", "pc-corte"]) == 0
    assert main(["keys", "revoke", "pc-corte"]) == 1
    assert main(["keys", "revoke", "nobody"]) == 1


def test_demo_data_is_realistic_and_idempotent(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    assert main(["demo-data", "--clientes", "60", "--pedidos", "300"]) == 0
    assert main(["demo-data", "--clientes", "60", "--pedidos", "300"]) == 0
    assert "already loaded" in capsys.readouterr().out
    engine = build_engine(Settings(data_dir=data_dir))
    try:
        with engine.connect() as conn:

            def count(table: object) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]

            assert (count(clientes), count(pedidos), count(tipos_producao)) == (60, 300, 6)
            assert count(pedido_eventos) >= 300
            for documento in conn.execute(select(clientes.c.documento)).scalars():
                assert normalize_documento(documento) == documento
            for cidade, busca in conn.execute(select(clientes.c.cidade, clientes.c.cidade_busca)):
                assert busca == folded(cidade)  # what ?cidade= compares
            statuses = set(conn.execute(select(pedidos.c.status).distinct()).scalars())
            assert statuses == {"aberto", "em_producao", "pronto", "entregue", "cancelado"}
            numeros = list(
                conn.execute(select(pedidos.c.numero).order_by(pedidos.c.numero)).scalars()
            )
            assert numeros == list(range(1, 301))
    finally:
        engine.dispose()


@contextmanager
def port_in_use() -> Iterator[int]:
    """A loopback port another program listens on, for the block."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--instances", "0"], "between 1 and 32"),
        (["--tls", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "not both"),
        (["--tls-cert", "c.pem"], "go together"),
        (["--tls-cert", "absent.pem", "--tls-key", "absent.pem"], "cannot read absent.pem"),
        (["--role", "app"], "--role app needs --listen HOST:PORT"),
        (["--role", "app", "--listen", "127.0.0.1:9100", "--tls"], "--tls is the front host's"),
        (["--role", "front"], "--upstreams FILE goes with --role front"),
        (["--upstreams", "u.txt"], "--upstreams FILE goes with --role front"),
        (["--backups"], "--backups is for --role app"),
        (["--role", "front", "--upstreams", "absent.txt"], "cannot read absent.txt"),
        (["--role", "app", "--listen", "127.0.0.1:9100", "--observability"], "single host"),
    ],
)
def test_up_refuses_options_that_make_no_sense(
    data_dir: Path, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", *options]) == 2
    assert message in capsys.readouterr().err
    assert not (data_dir / "fichas.db").exists()  # refused before touching anything


def test_up_on_a_port_in_use_says_so_at_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with port_in_use() as port:
        listen = f"127.0.0.1:{port}"
        assert main(["up", "--listen", listen]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"fichas: {listen} is in use: another program listens there; stop it, or give fichas up "
        "another --listen\n"
    )
    assert captured.out == ""
    assert not (data_dir / "fichas.db").exists()  # refused before touching anything


def test_an_app_host_checks_every_port_its_instances_take(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with port_in_use() as port:
        listen = f"127.0.0.1:{port - 1}"  # the second instance's port is the one taken
        assert main(["up", "--role", "app", "--listen", listen, "--instances", "2"]) == 2
    assert capsys.readouterr().err == (
        f"fichas: 127.0.0.1:{port} is in use: another program listens there; stop it, or give "
        "fichas up another --listen\n"
    )
    assert not (data_dir / "fichas.db").exists()  # refused before touching anything


def test_a_front_host_refuses_an_upstreams_file_it_cannot_use(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstreams = tmp_path / "upstreams.txt"
    upstreams.write_text("# app hosts\n198.18.0.11:8001\n198.18.0.12\n")
    listen = f"127.0.0.1:{free_port()}"
    assert main(["up", "--role", "front", "--upstreams", str(upstreams), "--listen", listen]) == 2
    assert capsys.readouterr().err == (
        f"fichas: {upstreams}, line 3: '198.18.0.12': must be host:port, e.g. 127.0.0.1:8000\n"
    )
    assert not (data_dir / "fichas.db").exists()  # a front host has no database


@pytest.mark.parametrize("option", ["--prometheus-listen", "--alertmanager-listen"])
def test_up_names_the_monitoring_address_that_is_in_use(
    data_dir: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    with port_in_use() as port:
        address = f"127.0.0.1:{port}"
        public = f"127.0.0.1:{free_port()}"
        assert main(["up", "--listen", public, "--observability", option, address]) == 2
    assert capsys.readouterr().err == (
        f"fichas: {address} is in use: another program listens there; stop it, or give fichas up "
        f"another {option}\n"
    )
    assert not (data_dir / "fichas.db").exists()  # refused before touching anything


def test_up_with_a_malformed_listen_says_what_is_expected(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "--listen", "8080"]) == 2
    assert capsys.readouterr().err == (
        "fichas: --listen 8080: must be host:port, e.g. 127.0.0.1:8000\n"
    )


def test_up_refuses_to_start_empty_where_backups_of_a_lost_database_exist(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert main(["backup", "run"]) == 0
    [backup] = manifest.complete(data_dir / "backups")
    (data_dir / "fichas.db").unlink()  # the disk replaced, the file deleted by mistake
    capsys.readouterr()

    assert main(["up", "--listen", f"127.0.0.1:{free_port()}"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"fichas: refused: there is no database at {data_dir / 'fichas.db'}")
    assert f"restore it with `fichas restore {backup.id}`" in line
    assert "fichas up --new-database" in line
    assert captured.out == ""
    assert not (data_dir / "fichas.db").exists()  # nothing was created


def test_a_new_admin_key_never_overwrites_an_older_key_file(data_dir: Path) -> None:
    def first_key() -> Path | None:
        engine = migrated_engine(Settings(data_dir=data_dir))
        try:
            return ensure_admin_key(engine, data_dir)
        finally:
            engine.dispose()

    assert first_key() == data_dir / "admin.key"
    kept = (data_dir / "admin.key").read_bytes()
    assert first_key() is None  # keys exist: nothing made
    (data_dir / "fichas.db").unlink()  # a new, empty database (e.g. before a restore)
    made = first_key()
    assert made == data_dir / "admin-2.key"
    assert (data_dir / "admin.key").read_bytes() == kept
    assert made.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("verb", [["migrate"], ["up"], ["keys", "list"]])
def test_an_unreadable_database_is_one_line_saying_how_to_restore(
    data_dir: Path, verb: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "fichas.db").write_bytes(b"not a database at all " * 100)
    listen = ["--listen", f"127.0.0.1:{free_port()}"] if verb == ["up"] else []
    assert main([*verb, *listen]) == 2
    said = capsys.readouterr().err
    assert "Traceback" not in said
    line = said.splitlines()[-1]  # `up` may first warn about files open to others
    assert line.startswith("fichas: the SQLite database cannot be read (file is not a database)")
    assert "fichas restore <ID>" in line


def test_status_without_a_cluster_says_how_to_start_one(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 1
    assert "start one with `fichas up`" in capsys.readouterr().err
