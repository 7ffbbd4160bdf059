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


@pytest.mark.parametrize("value", ["1hour", "90 minutes", "abc", "", "1h30m", "nan", "infs"])
def test_a_bad_duration_names_the_accepted_forms(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FICHAS_BACKUP_INTERVAL", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    [line] = str(raised.value).splitlines()[1:]
    assert line == (
        f"  FICHAS_BACKUP_INTERVAL: {value!r} is not a duration: give seconds (3600) "
        "or a number and a unit: 90s, 30m, 1h, 1d"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600.0), ("2.5", 2.5), ("90s", 90.0), (" 30m ", 1800.0), ("1H", 3600.0),
     ("1.5h", 5400.0), ("1d", 86_400.0)],
)  # fmt: skip
def test_durations_are_seconds_or_a_number_and_a_unit(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("FICHAS_BACKUP_INTERVAL", value)
    assert load_settings().backup_interval == seconds


def test_a_duration_out_of_range_still_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FICHAS_BACKUP_INTERVAL", "-5m")
    with pytest.raises(SettingsError, match="FICHAS_BACKUP_INTERVAL: Input should be greater"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("FICHAS_BACKUP_INTERVALL", "FICHAS_BACKUP_INTERVAL"),
        ("FICHAS_DATABSE_URL", "FICHAS_DATABASE_URL"),
        ("FICHAS_TIME_ZONE", "FICHAS_TIMEZONE"),
        ("FICHAS_LOGLEVEL", "FICHAS_LOG_LEVEL"),
    ],
)
def test_an_unknown_setting_suggests_the_closest_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, suggestion: str
) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).splitlines()[1:] == [
        f"  {variable}: unknown setting; did you mean {suggestion}?"
    ]


def test_an_unknown_setting_like_no_other_gets_no_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FICHAS_COFFEE", "strong")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).splitlines()[1:] == ["  FICHAS_COFFEE: unknown setting (a typo?)"]
