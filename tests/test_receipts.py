"""Server statements: signed by the server key, verified only under the pinned key."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.receipts import (
    RECEIPT_FORMAT,
    TIME_FORMAT,
    StatementError,
    sign_statement,
    verify_statement,
)


def _pub(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def test_a_receipt_verifies_under_the_pinned_key_only() -> None:
    server, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    receipt = sign_statement(server, RECEIPT_FORMAT, {"recording_id": "R", "files": 3})
    assert verify_statement(json.dumps(receipt).encode(), RECEIPT_FORMAT,
                            _pub(server))["files"] == 3
    with pytest.raises(StatementError, match="another server"):
        verify_statement(receipt, RECEIPT_FORMAT, _pub(other))
    forged = sign_statement(other, RECEIPT_FORMAT, {"recording_id": "R", "files": 3})
    forged["server_key"] = _pub(server)  # claims the pinned key
    with pytest.raises(StatementError, match="does not verify"):
        verify_statement(forged, RECEIPT_FORMAT, _pub(server))
    altered = {**receipt, "files": 4}
    with pytest.raises(StatementError, match="does not verify"):
        verify_statement(altered, RECEIPT_FORMAT, _pub(server))


def test_a_statement_of_one_kind_is_not_another() -> None:
    server = Ed25519PrivateKey.generate()
    time = sign_statement(server, TIME_FORMAT, {"time": "2026-12-06T08:00:00.000Z"})
    with pytest.raises(StatementError, match=f"not a {RECEIPT_FORMAT}"):
        verify_statement(time, RECEIPT_FORMAT, _pub(server))
    with pytest.raises(StatementError, match="not a JSON"):
        verify_statement(b"\xff", RECEIPT_FORMAT, _pub(server))
