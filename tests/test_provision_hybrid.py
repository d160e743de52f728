"""Post-quantum recipients in configuration, recipients files and provisioning.

The camera accepts age1pq1... keys wherever it accepts age1... keys; it refuses a list
that mixes the two kinds, saying why; a malformed, truncated or non-canonical age1pq1
string is refused by line (recipients file) or entry (TOML list) and character position;
a secret key (AGE-SECRET-KEY-PQ-1...) given as a recipient is refused and never repeated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.config.loader import ConfigError, ConfigText, load_config
from bodycam.firmware.device.provisioning_validate import validate_with_recipients
from bodycam.firmware.device.recipients_file import read_recipients
from bodycam.firmware.evidence.age.keys import generate_identity, recipient_fingerprint
from bodycam.tools.provision.cli import main

PQ_SECRET, PQ = generate_identity(post_quantum=True)
PQ_OTHER = generate_identity(post_quantum=True)[1]
X25519 = generate_identity()[1]
SECRET_BODY = PQ_SECRET[len("AGE-SECRET-KEY-PQ-1"):]


def _toml(*recipients: str) -> ConfigText:
    listed = ", ".join(f'"{r}"' for r in recipients)
    text = f'[device]\nid = "BC-0042"\n\n[evidence]\nrecipients = [{listed}]\n'
    return ConfigText("bodycam.toml", text.encode())


def _config_error(*recipients: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(_toml(*recipients))
    return str(info.value)


def _file_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        read_recipients("bodycam-recipients.txt", text.encode())
    return str(info.value)


def test_hybrid_recipients_are_accepted_in_the_configuration() -> None:
    config = load_config(_toml(PQ, PQ_OTHER))
    assert config.evidence.recipients == (PQ, PQ_OTHER)
    assert read_recipients("r.txt", f"# authority\n{PQ}\n\n{PQ_OTHER}\n".encode()) == (
        PQ, PQ_OTHER)


def test_configuration_mixing_hybrid_and_x25519_is_refused_saying_why() -> None:
    message = _config_error(PQ, X25519, PQ_OTHER)
    assert "evidence.recipients" in message
    assert "quantum computer" in message and "list only the age1pq1... keys" in message
    assert "post-quantum: entry 1, entry 3; X25519: entry 2" in message


def test_recipients_file_mixing_kinds_is_refused_by_line() -> None:
    message = _file_error(f"# new\n{PQ}\n# old\n{X25519}\n")
    assert "post-quantum: line 2; X25519: line 4" in message
    assert "quantum computer" in message


def test_merging_a_hybrid_recipients_file_into_an_x25519_configuration_is_refused() -> None:
    """The migration replaces the recipients; a merge would mix them, and is refused."""
    recipients = ConfigText("bodycam-recipients.txt", f"{PQ}\n".encode())
    with pytest.raises(ConfigError, match="quantum computer"):
        validate_with_recipients(_toml(X25519), recipients, keep=True)
    config, _text = validate_with_recipients(_toml(X25519), recipients, keep=False)
    assert config.evidence.recipients == (PQ,)


BAD = {
    "truncated": (PQ[:1200], "checksum mismatch", "1200 characters"),
    "bad-character": (PQ[:900] + "o" + PQ[901:], "invalid Bech32 character 'o' at position 901",
                      ""),
    "upper-case": (PQ.upper(), "the prefix is not 'age1pq'", ""),
    "mixed-case": (PQ[:1000] + PQ[1000:].upper(), "mixed upper and lower case", ""),
}


@pytest.mark.parametrize("name", BAD)
def test_malformed_hybrid_recipient_in_configuration_names_entry_and_position(name: str) -> None:
    text, problem, detail = BAD[name]
    message = _config_error(PQ_OTHER, text)
    assert "evidence.recipients" in message and "entry 2: not an age post-quantum" in message
    assert problem in message and detail in message


@pytest.mark.parametrize("name", BAD)
def test_malformed_hybrid_recipient_in_recipients_file_names_line_and_position(
        name: str) -> None:
    text, problem, detail = BAD[name]
    message = _file_error(f"# authority\n{PQ_OTHER}\n\n{text}\n")
    assert "bodycam-recipients.txt: line 4: " in message
    assert problem in message and detail in message


def test_hybrid_secret_key_as_recipient_is_refused_and_never_repeated() -> None:
    for message in (_config_error(PQ_SECRET), _file_error(f"{PQ}\n{PQ_SECRET}\n"),
                    _file_error(f"{PQ} {PQ_SECRET}\n"), _config_error(PQ_SECRET.lower())):
        assert "secret" in message
        assert SECRET_BODY[:10] not in message.upper()


def test_provisioning_check_refuses_a_bad_hybrid_line_by_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bodycam.toml"
    config.write_bytes(_toml(PQ).data)
    recipients = tmp_path / "keys.txt"
    recipients.write_text(f"{PQ_OTHER}\n{PQ[:-3]}\n{PQ_SECRET}\n")
    assert main(["check", str(config), "--recipients", str(recipients)]) == 1
    err = capsys.readouterr().err
    assert f"{recipients}: line 2" in err and "1956 characters" in err
    assert f"{recipients}: line 3" in err and SECRET_BODY[:10] not in err.upper()


def test_provisioning_check_accepts_hybrid_recipients(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bodycam.toml"
    config.write_bytes(_toml().data)
    recipients = tmp_path / "keys.txt"
    recipients.write_text(f"{PQ}\n{PQ_OTHER}\n")
    assert main(["check", str(config), "--recipients", str(recipients)]) == 0
    assert "2 recipient(s)" in capsys.readouterr().out
    assert len({recipient_fingerprint(PQ), recipient_fingerprint(PQ_OTHER)}) == 2
