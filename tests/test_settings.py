"""Settings come from FICHAS_* variables and fail fast, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fichas.settings import SettingsError, load_settings


def test_defaults_use_sqlite_under_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FICHAS_DATABASE_URL", raising=False)
    monkeypatch.setenv("FICHAS_DATA_DIR", "/srv/fichas")
    settings = load_settings()
    assert settings.resolved_database_url == "sqlite:////srv/fichas/fichas.db"
    assert settings.data_dir == Path("/srv/fichas")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FICHAS_LISTEN", "8000", "host:port"),
        ("FICHAS_LISTEN", "localhost:99999", "host:port"),
        ("FICHAS_DB_THREADS", "0", "greater than or equal to 1"),
        ("FICHAS_LOG_LEVEL", "loud", "debug"),
        ("FICHAS_DATABASE_URL", "mysql://x", "sqlite"),
        ("FICHAS_TIMEZONE", "Mars/Olympus", "time zone"),
        ("FICHAS_TRUSTED_PROXIES", "10.0.0.1/8", "host bits set"),
        ("FICHAS_TRUSTED_PROXIES", "caddy", "does not appear to be an IPv4 or IPv6"),
    ],
)
def test_bad_values_stop_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        load_settings()
    assert message in str(raised.value)


def test_unknown_fichas_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHAS_DATABSE_URL", "sqlite:///typo.db")  # a typo must not pass silently
    with pytest.raises(SettingsError, match="FICHAS_DATABSE_URL"):
        load_settings()


def test_trusted_proxies_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHAS_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")
    assert [str(n) for n in load_settings().trusted_proxies] == ["10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("FICHAS_TRUSTED_PROXIES", "")
    assert load_settings().trusted_proxies == []
