"""The last record of an event that the camera itself signed (AuditLog.last_signed).

The controller takes the previous configuration from the last signed `boot` record, so
the card holder, who can write any byte of the log but sign none, must not be able to
put a record of their own there: an unsigned line, a line signed under another device
key, or one of the camera's own old lines copied to the end. Each test writes the log
as the camera would, then as the card holder would.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from bodycam.firmware.device.audit import AuditLog, audit_path
from bodycam.firmware.evidence import signed_log
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    KEY_FIELD,
    SignedLog,
    canonical_json,
    line_hash,
    read_records,
    signed_bytes,
)
from bodycam.hal.clocks import ManualClock

CLOCK = ManualClock()


def boot(data_dir: Path, store: SoftwareKeyStore, digest: str, *,
         filler: int = 0) -> AuditLog:
    """One start of the camera: a new session key, a `boot` record, `filler` others."""
    audit = AuditLog.open(data_dir, SessionKey(store, CLOCK), CLOCK)
    audit.record("boot", config_digest=digest)
    for n in range(filler):
        audit.record("state", step=n, note="x" * 100)
    return audit


def last_boot_digest(data_dir: Path, store: SoftwareKeyStore) -> str | None:
    """What the next start finds (it opens the log with a session of its own)."""
    audit = AuditLog.open(data_dir, SessionKey(store, CLOCK), CLOCK)
    try:
        found = audit.last_signed("boot")
    finally:
        audit.close()
    return None if found is None else str(found["config_digest"])


def append(path: Path, record: dict[str, Any]) -> None:
    with path.open("ab") as stream:
        stream.write(canonical_json(record) + b"\n")


def chained(path: Path, **fields: Any) -> dict[str, Any]:
    """A record that follows the log's last line (seq and prev right), unsigned."""
    last = path.read_bytes().splitlines()[-1]
    return {**fields, "seq": json.loads(last)["seq"] + 1, "prev": line_hash(last),
            "time": "2025-01-01T08:00:00.000Z", "sig": base64.b64encode(b"x" * 64).decode()}


def test_the_last_boot_is_found_across_sessions_and_window_boundaries(
        tmp_path: Path) -> None:
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A").close()
    boot(tmp_path, store, "B", filler=2000).close()  # ~300 KiB: several read windows
    assert last_boot_digest(tmp_path, store) == "B"


def test_an_unsigned_boot_line_is_passed_over(tmp_path: Path) -> None:
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A").close()
    path = audit_path(tmp_path)
    append(path, chained(path, event="boot", config_digest="FORGED"))
    assert last_boot_digest(tmp_path, store) == "A"


def test_a_boot_line_signed_under_another_device_key_is_passed_over(tmp_path: Path) -> None:
    """The forger's own device key certifies a session that signs a perfect line."""
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A").close()
    boot(tmp_path, SoftwareKeyStore.generate(), "FORGED").close()
    assert last_boot_digest(tmp_path, store) == "A"


def test_the_cameras_own_old_line_copied_to_the_end_means_unknown(tmp_path: Path) -> None:
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A").close()
    path = audit_path(tmp_path)
    old = path.read_bytes()
    boot(tmp_path, store, "B").close()
    with path.open("ab") as stream:
        stream.write(old)
    assert last_boot_digest(tmp_path, store) is None


@pytest.mark.parametrize("replacement", [b"", b"{not json\n"], ids=["cut", "garbled"])
def test_a_record_cut_or_garbled_after_the_boot_means_unknown(
        tmp_path: Path, replacement: bytes) -> None:
    """A record between the boot and the end is gone: what came before it cannot be
    tied to the end. (A garbled line added between two records breaks no link: the
    records around it are still the camera's, and `verify` reports the line.)"""
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A", filler=3).close()
    path = audit_path(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = replacement
    path.write_bytes(b"".join(lines))
    assert last_boot_digest(tmp_path, store) is None


def test_a_pile_of_look_alikes_means_unknown(tmp_path: Path) -> None:
    """More unsigned `boot` lines than the search will check: it gives up (the change is
    then audited) instead of verifying signatures without end."""
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A").close()
    path = audit_path(tmp_path)
    for _ in range(100):
        append(path, chained(path, event="boot", config_digest="FORGED"))
    assert last_boot_digest(tmp_path, store) is None


def test_a_log_from_before_session_keys_is_read(tmp_path: Path) -> None:
    """Older firmware signed every line with the device key itself; its first record
    names that key."""
    store = SoftwareKeyStore.generate()
    path = audit_path(tmp_path)
    path.parent.mkdir(parents=True)
    record: dict[str, Any] = {
        "seq": 0, "prev": GENESIS_PREV, "time": "2024-01-01T08:00:00.000Z", "event": "boot",
        KEY_FIELD: base64.b64encode(store.public_key_bytes()).decode(),
        "config_digest": "LEGACY"}
    record["sig"] = base64.b64encode(store.sign(signed_bytes(record))).decode()
    append(path, record)
    assert last_boot_digest(tmp_path, store) == "LEGACY"
    assert last_boot_digest(tmp_path, SoftwareKeyStore.generate()) is None


def test_the_search_reads_back_only_so_far(tmp_path: Path) -> None:
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A", filler=200).close()
    path = audit_path(tmp_path)
    with SignedLog.open(path, SessionKey(store, CLOCK), CLOCK) as log:
        assert log.last_record("boot", lambda _found: True) is not None
        assert log.last_record("boot", lambda _found: True, within=4096) is None


@pytest.mark.parametrize("window", [1, 7, 100, 65536])
def test_lines_are_read_back_whole_whatever_the_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    store = SoftwareKeyStore.generate()
    boot(tmp_path, store, "A", filler=30).close()
    path = audit_path(tmp_path)
    with path.open("ab") as stream:
        stream.write(b'{"seq": 99, "torn')  # a torn last line is not a record
    monkeypatch.setattr(signed_log, "_TAIL_WINDOW", window)
    with path.open("rb") as stream:
        size = path.stat().st_size
        found = [record for _line, record in
                 signed_log._records_backwards(stream.fileno(), size, 0)]
        tail = [record for _line, record in
                signed_log._records_backwards(stream.fileno(), size, size - 500)]
    everything = read_records(path)
    assert found == everything[::-1]
    assert 0 < len(tail) < len(everything) and tail == everything[::-1][:len(tail)]
