"""Line settings: saved per station or category and read back, each link switchable, unsafe settings refused."""

from __future__ import annotations

import json

import pytest

from core.lineio import LINKS, LineConfig, LineConfigError, LineConfigStore


def test_defaults_have_every_link_off_and_loopback(tmp_path):
    config = LineConfigStore(tmp_path).load("tiles")
    assert config.station == "tiles"
    assert not any(config.link(name).enabled for name in LINKS)
    assert config.rest.host == "127.0.0.1" and config.modbus.host == "127.0.0.1"


def test_saved_per_key_and_read_back(tmp_path):
    store = LineConfigStore(tmp_path / "lineio")
    a = LineConfig(station="press-1")
    a.modbus.enabled, a.modbus.port, a.modbus.buffer_results = True, 1502, True
    a.mqtt.enabled, a.mqtt.command_topic = True, "llad/{station}/command"
    a.camera_timeout = 0.75
    store.save("press-1", a)
    b = LineConfig(station="bottles")
    b.webhook.enabled, b.webhook.url = True, "http://127.0.0.1:9000/hook"
    store.save("bottles", b)
    assert store.load("press-1") == a and store.load("bottles") == b
    assert store.load("press-1") != store.load("bottles")
    # a file from a newer LLAD with keys this one does not know still loads
    data = json.loads((tmp_path / "lineio" / "press-1.json").read_text())
    data["modbus"]["future_option"] = 1
    data["future_link"] = {"enabled": True}
    (tmp_path / "lineio" / "press-1.json").write_text(json.dumps(data))
    assert store.load("press-1") == a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: (setattr(c.rest, "enabled", True), setattr(c.rest, "host", "0.0.0.0")), "API key"),
        (lambda c: (setattr(c.webhook, "enabled", True), setattr(c.webhook, "url", "ftp://x")), "http"),
        (lambda c: setattr(c.modbus, "port", 70000), "not a TCP port"),
        (lambda c: setattr(c, "queue_size", 0), "queue_size"),
        (lambda c: setattr(c.mqtt, "qos", 3), "qos"),
        (lambda c: setattr(c.rest, "port", -1), "rest: port -1"),
        (lambda c: setattr(c, "camera_timeout", 0.0), "camera_timeout"),
    ],
)
def test_unusable_settings_are_refused(tmp_path, change, message):
    config = LineConfig()
    change(config)
    with pytest.raises(LineConfigError, match=message):
        LineConfigStore(tmp_path).save("x", config)
    assert not (tmp_path / "x.json").exists()


def test_rest_on_another_interface_with_a_key_is_allowed(tmp_path):
    config = LineConfig()
    config.rest.enabled, config.rest.host, config.rest.api_key = True, "0.0.0.0", "k" * 24
    LineConfigStore(tmp_path).save("x", config)
    assert LineConfigStore(tmp_path).load("x").rest.api_key == "k" * 24


@pytest.mark.parametrize("key", ["", "../etc", "a/b", "."])
def test_bad_keys(tmp_path, key):
    with pytest.raises(LineConfigError):
        LineConfigStore(tmp_path).path(key)


def test_damaged_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(LineConfigError, match="cannot read line settings"):
        LineConfigStore(tmp_path).load("x")
