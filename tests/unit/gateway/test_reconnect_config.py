"""The [reconnect] table: documented defaults, shipped templates, every bad value names its key."""

from __future__ import annotations

import re

import pytest

from gateway.config import ReconnectSection, load_config
from gateway.domain.errors import ConfigError
from tests.unit.gateway.factories import MINIMAL_GATEWAY_TOML as MINIMAL
from tests.unit.gateway.factories import SESSIONS_DIR as SESSIONS
from tests.unit.gateway.factories import write_gateway_toml as write


def test_without_a_reconnect_table_the_broker_defaults_apply(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))

    assert config.reconnect == ReconnectSection(
        enabled=True,
        initial_delay_s=1.0,
        max_delay_s=60.0,
        multiplier=2.0,
        jitter=0.2,
        stable_after_s=30.0,
    )


def test_every_key_is_read_and_integers_become_seconds(tmp_path):
    text = MINIMAL + (
        "[reconnect]\nenabled = false\ninitial_delay_s = 2\nmax_delay_s = 120\n"
        "multiplier = 3\njitter = 0.5\nstable_after_s = 0\n"
    )

    reconnect = load_config(write(tmp_path, text)).reconnect

    assert reconnect == ReconnectSection(
        enabled=False,
        initial_delay_s=2.0,
        max_delay_s=120.0,
        multiplier=3.0,
        jitter=0.5,
        stable_after_s=0.0,
    )
    assert isinstance(reconnect.initial_delay_s, float)


@pytest.mark.parametrize(
    ("name", "initial", "maximum", "stable"),
    [
        ("gateway-sim.toml", 1.0, 5.0, 5.0),
        ("gateway-sim-model.toml", 1.0, 5.0, 5.0),
        ("broker-template.toml", 1.0, 60.0, 30.0),
    ],
)
def test_shipped_templates_carry_their_reconnect_table(name, initial, maximum, stable):
    reconnect = load_config(SESSIONS / name).reconnect

    assert reconnect.enabled
    assert (reconnect.initial_delay_s, reconnect.max_delay_s, reconnect.stable_after_s) == (
        initial,
        maximum,
        stable,
    )


@pytest.mark.parametrize("cfg", ["gateway-sim.cfg", "broker-template.cfg"])
def test_shipped_session_files_poll_every_second(cfg):
    # with backoff on, ReconnectInterval is the polling step: a coarse one stretches every delay
    assert re.search(r"^ReconnectInterval=1$", (SESSIONS / cfg).read_text(), re.MULTILINE)


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        ("initial_delay_s = 0", "[reconnect] initial_delay_s: expected a number from 0.1"),
        ("initial_delay_s = '1s'", "[reconnect] initial_delay_s"),
        ("max_delay_s = 100000", "[reconnect] max_delay_s: expected a number"),
        ("multiplier = 0.5", "[reconnect] multiplier: expected a number from 1.0"),
        ("jitter = 1.0", "[reconnect] jitter: expected a number from 0.0 to 0.9"),
        ("jitter = -0.1", "[reconnect] jitter"),
        ("stable_after_s = -1", "[reconnect] stable_after_s"),
        ("enabled = 'yes'", "[reconnect] enabled: expected true or false"),
        ("initial_s = 1", "[reconnect] initial_s: unknown key"),
        ("initial_delay_s = 10\nmax_delay_s = 5", "[reconnect] max_delay_s: expected at least"),
    ],
)
def test_bad_values_and_unknown_keys_name_the_key(tmp_path, snippet, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(write(tmp_path, MINIMAL + "[reconnect]\n" + snippet + "\n"))


def test_reconnect_must_be_a_table(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("[reconnect]: expected a table")):
        load_config(write(tmp_path, "reconnect = 5\n" + MINIMAL))
