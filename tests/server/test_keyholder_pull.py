"""The server's pull of the key holder's log, offline (a carried copy, `bodycam-server
keyholder pull --from FILE`): every line is checked as it enters the audit trail, and a
line that is forged, altered, out of order, or signed under another log key stops the
pull with nothing of it recorded."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from keyholder_rig import Holder, make_holder
from people_rig import Clock, make_context

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.signed_log import canonical_json, signed_bytes
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.server.keyholder.log import LOG_FILE
from bodycam.server.keyholder.pull import PULLED, pull_log

PEER = {"pid": 0, "uid": 0, "gid": 0}


@pytest.fixture
def holder(tmp_path: Path) -> Holder:
    holder = make_holder(tmp_path / "kh")
    key_holder = holder.open()
    key_holder.unwrap(holder.request(), PEER)
    key_holder.close()
    return holder


@pytest.fixture
def context(tmp_path: Path, holder: Holder) -> Iterator[ServerContext]:
    context = make_context(tmp_path / "server", [], Clock())
    KeyholderLink(holder.directory.parent / "holder.sock",
                  DevicePublicKey.from_raw(base64.b64decode(holder.init.log_key))
                  ).save(context.settings.identity_dir)
    yield context
    context.close()


def pull(context: ServerContext, lines: list[bytes], tmp_path: Path) -> tuple[int, str, str]:
    from server_rig import run_server
    copy = tmp_path / "carried.jsonl"
    copy.write_bytes(b"".join(lines))
    result = run_server("keyholder", "pull", "--data-dir", str(context.settings.data_dir),
                        "--from", str(copy), check=False)
    return result.returncode, result.stdout, result.stderr


def log_lines(holder: Holder) -> list[bytes]:
    return (holder.directory / LOG_FILE).read_bytes().splitlines(keepends=True)


def pulled(context: ServerContext) -> list[str]:
    return [json.loads(e.details)["record"]["event"]
            for e in Access.of(context).audit.events(PULLED)]


def test_a_carried_copy_is_pulled_once(holder: Holder, context: ServerContext,
                                       tmp_path: Path) -> None:
    lines = log_lines(holder)
    assert pull(context, lines, tmp_path)[0] == 0
    assert pulled(context) == ["keyholder_init", "unlock"]
    code, out, _err = pull(context, lines, tmp_path)
    assert code == 0 and out.startswith("0 new")
    assert pulled(context) == ["keyholder_init", "unlock"]


def _resigned(line: bytes, key: Ed25519PrivateKey, **changes: object) -> bytes:
    record = {**json.loads(line), **changes}
    record["sig"] = base64.b64encode(key.sign(signed_bytes(record))).decode()
    return canonical_json(record) + b"\n"


def test_altered_line_stops_the_pull(holder: Holder, context: ServerContext,
                                     tmp_path: Path) -> None:
    lines = log_lines(holder)
    lines[1] = lines[1].replace(b"benchmark", b"Benchmark")
    code, _out, err = pull(context, lines, tmp_path)
    assert code == 1 and "seq 1: the signature does not verify" in err
    assert pulled(context) == []


def test_line_signed_by_another_key_stops_the_pull(holder: Holder, context: ServerContext,
                                                   tmp_path: Path) -> None:
    lines = log_lines(holder)
    lines[1] = _resigned(lines[1], Ed25519PrivateKey.generate(), reason="made up")
    code, _out, err = pull(context, lines, tmp_path)
    assert code == 1 and "does not verify" in err


def test_log_of_another_key_holder_refused(tmp_path: Path, context: ServerContext) -> None:
    stranger = make_holder(tmp_path / "other")
    code, _out, err = pull(context, log_lines(stranger), tmp_path)
    assert code == 1 and "not the pinned key holder log key" in err


def test_dropped_line_stops_the_pull(holder: Holder, context: ServerContext,
                                     tmp_path: Path) -> None:
    code, _out, err = pull(context, log_lines(holder)[1:], tmp_path)
    assert code == 1 and "does not continue the lines already pulled" in err


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path, holder: Holder
           ) -> Iterator[ServerContext]:
    from people_rig import database_args
    context = make_context(tmp_path / "shared", database_args(request.param, request), Clock())
    yield context
    context.close()


def test_pullers_at_once_record_each_line_once(holder: Holder, shared: ServerContext) -> None:
    """Four server processes' pulls, each past reading the position and the lines before
    any records them (the barrier): one records, the others find it done."""
    lines = [line.decode().rstrip("\n") for line in log_lines(holder)]
    log_key = DevicePublicKey.from_raw(base64.b64decode(holder.init.log_key))
    barrier = threading.Barrier(4)

    def source(after: int) -> list[str]:
        if after == -1:  # the first read of each: all four have the same position
            barrier.wait(timeout=60)
        return [line for line in lines if json.loads(line)["seq"] > after]

    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(
        pull_log(Access.of(shared), source, log_key))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == [0, 0, 0, len(lines)]
    assert pulled(shared) == ["keyholder_init", "unlock"]
