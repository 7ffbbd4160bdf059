"""The proxy configuration: rendered for any number of instances, and accepted by Caddy."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.caddy import ProxyConfig, ProxyConfigError, Tls, greater_than_pattern, write_config
from tests.proxy.support import echo_forwarded_for, proxy_config, running_caddy, stubs
from tests.support import own_certificate


@given(limit=st.integers(0, 10**9), value=st.integers(0, 10**12))
def test_greater_than_pattern_matches_exactly_the_larger_numbers(limit: int, value: int) -> None:
    assert bool(re.fullmatch(greater_than_pattern(limit), str(value))) is (value > limit)


@pytest.mark.parametrize("https", ["none", "internal", "own"])
@pytest.mark.parametrize("instances", [1, 3])
def test_rendered_config_passes_caddy_validate(tmp_path: Path, instances: int, https: str) -> None:
    tls: Tls = None
    if https == "internal":
        tls = "internal"
    elif https == "own":
        tls = own_certificate(tmp_path / "a folder with spaces")
    config = ProxyConfig(
        listen="127.0.0.1:8080",
        upstreams=[f"127.0.0.1:{9000 + n}" for n in range(instances)],
        admin="127.0.0.1:2019",
        max_body_bytes=1024 * 1024,
        tls=tls,
    )
    rendered = write_config(config, tmp_path / "Caddyfile").read_text()
    assert rendered.count("127.0.0.1:90") == instances
    assert "admin 127.0.0.1:2019" in rendered
    assert ("skip_install_trust" in rendered) is bool(tls)


def test_caddy_refuses_a_broken_config(tmp_path: Path) -> None:
    config = ProxyConfig(
        listen="127.0.0.1:no-port",
        upstreams=["127.0.0.1:9000"],
        admin="127.0.0.1:2019",
        max_body_bytes=1,
    )
    with pytest.raises(ProxyConfigError, match="caddy rejected"):
        write_config(config, tmp_path / "Caddyfile")


def test_the_proxy_forwards_the_address_it_saw_not_the_one_claimed(tmp_path: Path) -> None:
    with stubs(1, echo_forwarded_for) as upstreams:
        config = proxy_config([upstreams[0].address], max_body_bytes=1024)
        with running_caddy(config, tmp_path) as caddy:
            response = httpx2.get(caddy.base_url, headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.text == "127.0.0.1"
