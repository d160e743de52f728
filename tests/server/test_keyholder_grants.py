"""The key holder's checks and its re-wrap, on a real key holder directory: every grant
it honours gives the viewer headers that open the untouched ciphertext with the viewer's
own identity, and every grant the issue names as bad (forged, edited, replayed, expired,
over-broad, another recording's segments, a swapped header or viewer key) is refused,
named, and written to its signed log."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from keyholder_rig import Holder, make_holder, viewer_file, viewer_plaintext

from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.server.keyholder.errors import RefusedError
from bodycam.server.keyholder.grant import GrantSegment, sign_grant
from bodycam.server.keyholder.request import UnwrapRequest, preamble_of
from bodycam.server.keyholder.sample import sample_recording

PEER = {"pid": 1, "uid": 2, "gid": 3}


@pytest.fixture(params=["x25519", "post-quantum"])
def holder(request: pytest.FixtureRequest, tmp_path: Path) -> Holder:
    return make_holder(tmp_path, post_quantum=request.param == "post-quantum")


@pytest.fixture
def x25519_holder(tmp_path: Path) -> Holder:
    return make_holder(tmp_path)


def refused(holder: Holder, request: UnwrapRequest | bytes, rule: str) -> str:
    """Asserts the key holder refuses with `rule` and logs it; the message."""
    key_holder = holder.open()
    try:
        with pytest.raises(RefusedError) as caught:
            key_holder.unwrap(request, PEER)
    finally:
        key_holder.close()
    assert caught.value.rule == rule, caught.value.message
    last = holder.records()[-1]
    assert last["event"] == "refused" and last["rule"] == rule
    assert last["message"] == caught.value.message and last["peer"] == PEER
    return caught.value.message


def test_viewer_opens_every_segment_with_own_key(holder: Holder) -> None:
    key_holder = holder.open()
    response = key_holder.unwrap(holder.request(), PEER)
    key_holder.close()
    names = sorted(p.name for p in holder.recording.glob("*.age"))
    assert [s.file for s in response.segments] == names
    for name in names:
        original = (holder.recording / name).read_bytes()
        rewrapped = next(s for s in response.segments if s.file == name)
        # the payload (nonce and chunks) is the stored bytes, untouched
        assert viewer_file(holder, response, name)[len(rewrapped.header):] == \
            original[rewrapped.header_bytes:]
        assert viewer_plaintext(holder, response, name) == holder.authority_plaintext(name)
    unlock = holder.records("unlock")[-1]
    assert unlock["recording_id"] == holder.recording.name
    assert [s["file"] for s in unlock["segments"]] == names
    assert unlock["reason"] == "benchmark of the key holder"
    assert (unlock["seq"], response.log_seq) == (len(holder.records()) - 1,) * 2


def test_a_chosen_segment_only(x25519_holder: Holder) -> None:
    key_holder = x25519_holder.open()
    response = key_holder.unwrap(x25519_holder.request(segments=["00001.age"]), PEER)
    key_holder.close()
    assert [s.file for s in response.segments] == ["00001.age"]


def test_forged_grant_refused(x25519_holder: Holder) -> None:
    message = refused(x25519_holder, x25519_holder.request(key=Ed25519PrivateKey.generate()),
                      "forged")
    assert "another signing key" in message


@pytest.mark.parametrize("field", ["viewer", "reason", "expires", "recording_id", "segments",
                                   "requested_by"])
def test_edited_grant_refused(x25519_holder: Holder, field: str) -> None:
    """Any signed field changed in flight (the viewer key swapped for an eavesdropper's, a
    longer expiry, another recording, more segments) breaks the signature."""
    request = x25519_holder.request(segments=["00000.age"])
    grant = dict(request.grant)
    grant[field] = {
        "viewer": generate_identity()[1], "reason": "something else entirely",
        "expires": "2999-01-01T00:00:00.000Z", "recording_id": "BC-0002-20250101T080000Z-0000",
        "segments": [{"file": "00000.age", "sha256": "0" * 64}], "requested_by": "someone",
    }[field]
    message = refused(x25519_holder, UnwrapRequest(grant, request.manifest, request.preambles),
                      "forged")
    assert "does not verify" in message


def test_replayed_grant_refused_also_after_restart(x25519_holder: Holder) -> None:
    request = x25519_holder.request()
    key_holder = x25519_holder.open()
    key_holder.unwrap(request, PEER)
    key_holder.close()
    refused(x25519_holder, request, "replayed")  # a fresh process: the nonce is on disk


def test_expired_grant_refused(x25519_holder: Holder) -> None:
    request = x25519_holder.request(lifetime=timedelta(minutes=5))
    x25519_holder.clock.now += 5 * 60
    refused(x25519_holder, request, "expired")


def test_grant_from_the_future_refused(x25519_holder: Holder) -> None:
    request = x25519_holder.request()
    x25519_holder.clock.now -= 3600
    assert "synchronise the clocks" in refused(x25519_holder, request, "not_yet_valid")


def test_grant_valid_too_long_refused(x25519_holder: Holder) -> None:
    refused(x25519_holder, x25519_holder.request(lifetime=timedelta(hours=2)), "too_long")


def test_too_many_segments_refused(x25519_holder: Holder) -> None:
    x25519_holder.set(max_segments=2)
    message = refused(x25519_holder, x25519_holder.request(), "over_broad")
    assert "3 segments" in message and "max_segments" in message


def test_segment_named_twice_refused(x25519_holder: Holder) -> None:
    refused(x25519_holder, x25519_holder.request(segments=["00000.age", "00000.age"]),
            "over_broad")


def test_segment_of_another_recording_refused(x25519_holder: Holder, tmp_path: Path) -> None:
    """A grant for this recording naming another recording's segment (its name, hash and
    header), signed by the server all the same: the camera's manifest decides."""
    other = sample_recording(tmp_path / "other", x25519_holder.init.recipients, segments=1,
                             recording_id="BC-0002-20250101T090000Z-0b0b")
    data = (other / "00000.age").read_bytes()
    request = x25519_holder.request(segments=["00001.age"])
    grant = sign_grant(
        x25519_holder.server_key, recording_id=x25519_holder.recording.name,
        manifest_sha256=request.grant["manifest_sha256"],
        segments=[GrantSegment("00000.age", hashlib.sha256(data).hexdigest())],
        viewer=x25519_holder.viewer, requested_by="reviewer", approved_by="test",
        reason="a reason", issued=datetime.now(UTC), lifetime=timedelta(minutes=5))
    forged = UnwrapRequest(grant, request.manifest, {"00000.age": preamble_of(data)})
    message = refused(x25519_holder, forged, "not_in_recording")
    assert "00000.age" in message and "does not hold" in message


def test_manifest_of_another_recording_refused(x25519_holder: Holder, tmp_path: Path) -> None:
    other = sample_recording(tmp_path / "other", x25519_holder.init.recipients, segments=1,
                             recording_id="BC-0002-20250101T090000Z-0b0b")
    request = x25519_holder.request(segments=["00000.age"])
    swapped = UnwrapRequest(request.grant, (other / "manifest.jsonl").read_bytes(),
                            request.preambles)
    refused(x25519_holder, swapped, "not_in_recording")


def test_swapped_header_refused(x25519_holder: Holder) -> None:
    """The header sent with segment 0 is segment 1's (both open with the authority key):
    the camera signed each segment's own."""
    request = x25519_holder.request(segments=["00000.age"])
    other = x25519_holder.request(segments=["00001.age"]).preambles["00001.age"]
    swapped = UnwrapRequest(request.grant, request.manifest, {"00000.age": other})
    assert "not the one the camera signed" in refused(x25519_holder, swapped,
                                                      "header_mismatch")


def test_rate_limited(x25519_holder: Holder) -> None:
    x25519_holder.set(rate_per_person=2)
    key_holder = x25519_holder.open()
    for _ in range(2):
        key_holder.unwrap(x25519_holder.request(), PEER)
    key_holder.close()
    refused(x25519_holder, x25519_holder.request(), "rate_limited")
    x25519_holder.clock.now += 61
    key_holder = x25519_holder.open()
    key_holder.unwrap(x25519_holder.request(), PEER)  # a minute later it opens again
    key_holder.close()


def test_garbage_refused_and_logged(x25519_holder: Holder) -> None:
    refused(x25519_holder, b"{not json", "malformed")
    refused(x25519_holder, b'{"format": "bodycam-unwrap-request/1", "grant": 1, '
            b'"manifest": "", "preambles": {}}', "malformed")


def test_holder_without_the_identity_refuses(x25519_holder: Holder, tmp_path: Path) -> None:
    stranger = sample_recording(tmp_path / "stranger", [generate_identity()[1]], segments=1)
    x25519_holder.recording = stranger
    assert "authority identity" in refused(x25519_holder, x25519_holder.request(),
                                           "no_identity")
