"""The clock path: the camera hands the server's signed time to bodycam-clock.service,
which checks it again on its own and sets the clock; and the token bucket's pacing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from offload_support import make_pki, offload_toml, server_key_b64

from bodycam.firmware.evidence.receipts import TIME_FORMAT, sign_statement
from bodycam.firmware.offload.bandwidth import TokenBucket
from bodycam.firmware.offload.set_clock import ClockRequestError, Paths, apply_request
from bodycam.firmware.offload.set_clock import main as set_clock_main
from bodycam.firmware.offload.timesync import CLOCK_REQUEST_FORMAT
from bodycam.hal.clocks import ManualClock

SERVER = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
SIGNED_AT = "2026-12-06T08:00:00.000Z"
SIGNED_UNIX = datetime(2026, 12, 6, 8, tzinfo=UTC).timestamp()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    config = tmp_path / "bodycam.toml"
    config.write_text(offload_toml("https://127.0.0.1:8443", make_pki().ca_pem,
                                   server_key_b64(SERVER)))
    return Paths(request=tmp_path / "clock-request.json", config=config,
                 state=tmp_path / "state" / "last", marker=tmp_path / "run" / "synchronized")


def write_request(paths: Paths, *, key: Ed25519PrivateKey = SERVER, time: str = SIGNED_AT,
                  arrived: float = 1000.0, round_trip: float = 0.2) -> None:
    statement = sign_statement(key, TIME_FORMAT, {"nonce": "ab" * 16, "time": time})
    paths.request.write_text(json.dumps({
        "format": CLOCK_REQUEST_FORMAT, "statement": statement, "round_trip": round_trip,
        "received_boottime": arrived}))


class Setter:
    def __init__(self) -> None:
        self.set_to: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.set_to.append(seconds)


def apply(paths: Paths, boottime: float = 1010.0) -> Setter:
    setter = Setter()
    apply_request(paths, boottime=lambda: boottime, set_time=setter)
    return setter


def test_a_fresh_signed_statement_sets_the_clock_and_leaves_the_marker(paths: Paths) -> None:
    paths.state.parent.mkdir()
    paths.marker.parent.mkdir()
    write_request(paths, arrived=1000.0, round_trip=0.2)
    setter = apply(paths, boottime=1010.0)
    # signed time + half the round trip + the 10 s since it arrived
    assert setter.set_to == [pytest.approx(SIGNED_UNIX + 0.1 + 10.0)]
    assert paths.marker.read_text() == SIGNED_AT


def test_a_statement_of_another_server_sets_nothing(paths: Paths) -> None:
    write_request(paths, key=OTHER)
    with pytest.raises(ClockRequestError, match="another server"):
        apply(paths)


def test_an_edited_statement_sets_nothing(paths: Paths) -> None:
    write_request(paths)
    request = json.loads(paths.request.read_text())
    request["statement"]["time"] = "2030-01-01T00:00:00.000Z"
    paths.request.write_text(json.dumps(request))
    with pytest.raises(ClockRequestError, match="does not verify"):
        apply(paths)


def test_a_stale_request_sets_nothing(paths: Paths) -> None:
    """A statement held back by whoever took the camera program over is too old."""
    write_request(paths, arrived=1000.0)
    with pytest.raises(ClockRequestError, match=r"arrived 500\.0 s ago"):
        apply(paths, boottime=1500.0)
    with pytest.raises(ClockRequestError, match="ago"):
        apply(paths, boottime=900.0)  # "arrived" in the future


def test_a_replayed_older_statement_never_sets_the_clock_back(paths: Paths) -> None:
    paths.state.parent.mkdir()
    paths.marker.parent.mkdir()
    write_request(paths)
    apply(paths)
    write_request(paths, time="2026-12-06T07:00:00.000Z")  # genuine, but an hour older
    with pytest.raises(ClockRequestError, match="not newer than the last one applied"):
        apply(paths)
    write_request(paths)  # the very same statement again
    with pytest.raises(ClockRequestError, match="not newer"):
        apply(paths)


def test_a_camera_without_a_server_accepts_no_statement(paths: Paths) -> None:
    paths.config.write_text("")
    write_request(paths)
    with pytest.raises(ClockRequestError, match="names no evidence server"):
        apply(paths)


@pytest.mark.parametrize("request_text", ["", "[]", '{"format": "other"}', "{" * 10000])
def test_garbage_requests_are_refused(paths: Paths, request_text: str) -> None:
    paths.request.write_text(request_text)
    with pytest.raises(ClockRequestError):
        apply(paths)


def test_the_unit_entry_point_reports_a_refusal(paths: Paths,
                                                caplog: pytest.LogCaptureFixture) -> None:
    write_request(paths, key=OTHER)
    code = set_clock_main(["--request", str(paths.request), "--config", str(paths.config),
                           "--state", str(paths.state), "--marker", str(paths.marker)])
    assert code == 1 and "clock not set" in caplog.text


def test_the_token_bucket_paces_to_the_configured_rate() -> None:
    """8000 kbit/s is 1 MB/s: 10 MB take 10 s less the quarter-second burst it starts
    with (simulated time, so no timing threshold)."""
    clock = ManualClock()
    bucket = TokenBucket(8000, clock)
    for _ in range(160):
        bucket.take(62_500)
    assert clock.monotonic() == pytest.approx(10.0 - 0.25, abs=1e-6)


def test_an_unlimited_bucket_never_waits() -> None:
    clock = ManualClock()
    bucket = TokenBucket(0, clock)
    bucket.take(10**9)
    assert clock.monotonic() == 0.0
