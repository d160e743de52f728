"""The `[offload]` table: the pinned server, each bad value a problem with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from offload_support import make_pki, offload_toml, server_key_b64

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.config.loader import ConfigError, ConfigProblem, load_config
from bodycam.firmware.config.model import OffloadConfig

PKI = make_pki()
KEY = server_key_b64(Ed25519PrivateKey.generate())


def _layer(tmp_path: Path, text: str, name: str = "camera-offload.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_config(_layer(tmp_path, text))
    return caught.value.problems


def _only(problems: list[ConfigProblem], key: str) -> ConfigProblem:
    assert [p.key for p in problems] == [key], [str(p) for p in problems]
    return problems[0]


def test_offload_is_off_by_default_and_the_model_defaults_agree() -> None:
    config = load_config()
    assert not config.offload.enabled
    assert config.offload == OffloadConfig()


def test_the_servers_camera_offload_toml_is_layered_as_it_is(tmp_path: Path) -> None:
    config = load_config(_layer(tmp_path, offload_toml("https://127.0.0.1:8443",
                                                       PKI.ca_pem, KEY)))
    offload = config.offload
    assert offload.enabled and offload.server_url == "https://127.0.0.1:8443"
    assert offload.server_key == KEY and "BEGIN CERTIFICATE" in offload.server_ca
    assert offload.bandwidth_kbps == 0  # unlimited unless the agency says otherwise


@pytest.mark.parametrize(("url", "fix"), [
    ("http://127.0.0.1:8443", "only https://"),
    ("https://127.0.0.1:8443/upload", "give only https://host:port"),
    ("https://127.0.0.1:8443/?x=1", "give only https://host:port"),
    ("https://user:pw@127.0.0.1:8443", "no user or password"),
    ("https://127.0.0.1:99999", "not a URL"),
    ("https://:8443", "names no host"),
    ("https://bad_host!:8443", "neither an IP address nor a host name"),
    ("127.0.0.1:8443", "only https://"),
])
def test_a_bad_url_names_key_value_and_fix(tmp_path: Path, url: str, fix: str) -> None:
    problem = _only(_problems(tmp_path, offload_toml(url, PKI.ca_pem, KEY)),
                    "offload.server_url")
    assert problem.given == url
    assert fix in str(problem) and "camera-offload.toml" in problem.source


def test_a_host_name_needs_the_address_the_firewall_allows(tmp_path: Path) -> None:
    text = offload_toml("https://evidence.test:8443", PKI.ca_pem, KEY)
    problem = _only(_problems(tmp_path, text), "offload.server_url")
    assert "set offload.server_address" in str(problem)
    config = load_config(_layer(tmp_path, text.replace(
        "[offload]", '[offload]\nserver_address = "10.20.0.5"')))
    assert config.offload.server_address == "10.20.0.5"


def test_an_address_beside_a_different_ip_url_is_refused(tmp_path: Path) -> None:
    text = offload_toml("https://10.20.0.5:8443", PKI.ca_pem, KEY,
                        server_address="10.20.0.6")
    problem = _only(_problems(tmp_path, text), "offload.server_address")
    assert "leave server_address empty" in str(problem)


@pytest.mark.parametrize("address", ["evidence.test", "0.0.0.0", "224.0.0.1", "10.0.0.300"])
def test_a_bad_address_is_refused(tmp_path: Path, address: str) -> None:
    text = offload_toml("https://evidence.test:8443", PKI.ca_pem, KEY, server_address=address)
    problem = _only(_problems(tmp_path, text), "offload.server_address")
    assert problem.given == address and problem.hint


def test_url_without_ca_or_key_names_both(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[offload]\nserver_url = "https://10.0.0.1:8443"\n')
    assert sorted(p.key for p in problems) == ["offload.server_ca", "offload.server_key"]
    assert all("copy" in p.hint and "camera-offload.toml" in p.hint for p in problems)


def test_a_server_certificate_is_not_a_ca(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, offload_toml("https://127.0.0.1:8443",
                                                     PKI.cert_pem, KEY)),
                    "offload.server_ca")
    assert "not a CA certificate" in str(problem)


def test_garbage_instead_of_a_ca(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, offload_toml("https://127.0.0.1:8443",
                                                     "hello", KEY)), "offload.server_ca")
    assert "not PEM certificates" in str(problem)


def test_a_private_key_pasted_anywhere_is_refused_and_never_repeated(tmp_path: Path) -> None:
    secret_line = PKI.key_pem.splitlines()[1]
    problems = _problems(tmp_path, offload_toml("https://127.0.0.1:8443", PKI.key_pem,
                                                KEY).replace(
        f'server_key = "{KEY}"', f'server_key = """{PKI.key_pem}"""'))
    assert sorted(p.key for p in problems) == ["offload.server_ca", "offload.server_key"]
    text = "\n".join(str(p) for p in problems)
    assert "private key" in text and secret_line not in text and secret_line[:20] not in text


@pytest.mark.parametrize(("key", "fix"), [
    ("not base64!", "not base64"),
    ("AAAA", "3 bytes"),
    ("", None),
])
def test_a_bad_server_key(tmp_path: Path, key: str, fix: str | None) -> None:
    problem = _only(_problems(tmp_path, offload_toml("https://127.0.0.1:8443",
                                                     PKI.ca_pem, key)), "offload.server_key")
    assert fix is None or fix in str(problem)


@pytest.mark.parametrize(("line", "key"), [
    ("bandwidth_kbps = -1", "offload.bandwidth_kbps"),
    ('bandwidth_kbps = "1000"', "offload.bandwidth_kbps"),
    ("timeout_seconds = 1", "offload.timeout_seconds"),
    ("retry_max_seconds = 0", "offload.retry_max_seconds"),
    ("failures_before_alarm = 0", "offload.failures_before_alarm"),
    ("server_urll = \"https://127.0.0.1\"", "offload.server_urll"),
])
def test_bad_numbers_and_names(tmp_path: Path, line: str, key: str) -> None:
    problem = _only(_problems(tmp_path, f"[offload]\n{line}\n"), key)
    assert problem.allowed


def test_check_config_layers_the_server_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    device = _layer(tmp_path, '[device]\nid = "BC-0042"\n', "bodycam.toml")
    server = _layer(tmp_path, offload_toml("https://127.0.0.1:8443", PKI.ca_pem, KEY,
                                           bandwidth_kbps=20000))
    assert bodycam_main(["check-config", str(device), str(server)]) == 0
    assert "offload:    https://127.0.0.1:8443, 20000 kbit/s" in capsys.readouterr().out


def test_bodycam_run_refuses_a_missing_layered_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Only the device file may be missing (shipped defaults); a layer named on purpose
    must be there, or the camera would run without the server it was given."""
    device = _layer(tmp_path, '[device]\nid = "BC-0042"\n', "bodycam.toml")
    missing = tmp_path / "camera-offload.toml"
    assert bodycam_main(["run", "--config", str(device), "--config", str(missing)]) == 1
    assert str(missing) in caplog.text and "create it" in caplog.text
