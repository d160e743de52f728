"""A sealed recording and the evidence server's receipt for it: do the two agree?

The camera removes a recording's segment files only after the server's signed receipt
names exactly the manifest on the card (its recording, its seal line's seq and chain
hash, its device key, its files and bytes); it then keeps `receipt.json` beside the
manifest. `bodycam-evidence verify` asks the same question later, of the same two
files, to accept a recording whose segments a receipt covers. One check for both, so
what the camera removed on and what verify accepts can never differ.

Only the manifest's last (seal) line is vouched for here by its chain hash: whether the
manifest itself verifies is verify.py's question (the server asked it before it signed).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bodycam.firmware.evidence.public_keys import fingerprint_of
from bodycam.firmware.evidence.receipts import (
    RECEIPT_FORMAT,
    StatementError,
    parse_statement,
    verify_statement,
)
from bodycam.firmware.evidence.signed_log import TORN_TAIL_EVENT, is_record, line_hash
from bodycam.firmware.evidence.verify_chain import open_regular

__all__ = ["RECEIPT_NAME", "ListedFile", "ReceiptError", "SealedManifest", "check_receipt",
           "read_receipt", "read_sealed_manifest", "sealed_manifest"]

RECEIPT_NAME: Final = "receipt.json"
_MEDIA_EVENTS: Final = frozenset({"segment", "recovery"})
_MAX_RECEIPT: Final = 64 * 1024


class ReceiptError(ValueError):
    """The receipt is not the server's, or not for this manifest; the message says what."""


@dataclass(frozen=True)
class ListedFile:
    """A file the manifest names with its signed size and hash."""

    name: str
    size: int
    sha256: str
    media: bool  # a segment (closed or salvaged); False: a torn-line side file


@dataclass(frozen=True)
class SealedManifest:
    """What a receipt must name of a sealed manifest."""

    recording_id: str
    device_id: str
    device_key_fingerprint: str
    seal_seq: int
    seal_hash: str  # chain hash of the seal line
    files: tuple[ListedFile, ...]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def media(self) -> tuple[ListedFile, ...]:
        return tuple(f for f in self.files if f.media)


def read_sealed_manifest(data: bytes) -> SealedManifest | None:
    """The facts of a manifest whose every line is a record and whose last is the seal;
    None for one that is not sealed (still recording, or not a manifest at all)."""
    lines = data.splitlines(keepends=True)
    records = [is_record(line) for line in lines]
    if not records or any(r is None for r in records):
        return None
    return sealed_manifest([r for r in records if r is not None], line_hash(lines[-1]))


def sealed_manifest(records: Sequence[Mapping[str, Any]], seal_hash: str
                    ) -> SealedManifest | None:
    """The facts of a manifest's records, header first and seal last (`seal_hash`: the
    seal line's chain hash); None unless it is sealed."""
    if not records:
        return None
    header, seal = records[0], records[-1]
    if header.get("event") != "header" or seal.get("event") != "seal" \
            or type(seal.get("seq")) is not int:
        return None
    files = tuple(listed for record in records if (listed := _listed(record)) is not None)
    return SealedManifest(
        recording_id=str(header.get("recording_id")), device_id=str(header.get("device_id")),
        device_key_fingerprint=_sealing_device_key(records),
        seal_seq=int(seal["seq"]), seal_hash=seal_hash, files=files)


def _sealing_device_key(records: Sequence[Mapping[str, Any]]) -> str:
    """Fingerprint of the device key that certified the seal's signer (the last one the
    manifest names: after a re-key, recovery seals an older recording with the new
    key), or the header's for a manifest from before session keys."""
    for record in reversed(records):
        signer = record.get("signer")
        if isinstance(signer, dict) and isinstance(signer.get("device_key"), str):
            try:
                return fingerprint_of(base64.b64decode(signer["device_key"], validate=True))
            except (binascii.Error, ValueError):
                break
    return str(records[0].get("device_key_fingerprint"))


def _listed(record: Mapping[str, Any]) -> ListedFile | None:
    event = record.get("event")
    name = record.get("file")
    if event in _MEDIA_EVENTS:
        size, digest = record.get("size"), record.get("sha256")
    elif event == TORN_TAIL_EVENT:
        size, digest = record.get("bytes"), record.get("sha256")
    else:
        return None
    if not (isinstance(name, str) and name and type(size) is int and isinstance(digest, str)):
        return None  # a salvaged segment that never reached the card names no file
    return ListedFile(name, size, digest, event in _MEDIA_EVENTS)


def read_receipt(path: Path) -> bytes:
    """The bytes of a receipt file on the card (a regular file, never a link; one byte
    past the limit, so an oversized file is refused as such by check_receipt)."""
    try:
        with open_regular(path) as stream:
            return stream.read(_MAX_RECEIPT + 1)
    except OSError as exc:
        raise ReceiptError(f"cannot be read ({exc})") from None


def check_receipt(data: bytes | Mapping[str, Any], manifest: SealedManifest,
                  server_key: str | None) -> dict[str, Any]:
    """The receipt, if the server `server_key` (base64) signed it for exactly `manifest`.

    `server_key` None trusts the key the receipt names (a custodian without the pin: the
    caller must say so). ReceiptError names every disagreement."""
    key = server_key if server_key is not None else _named_key(data)
    try:
        receipt = verify_statement(data, RECEIPT_FORMAT, key)
    except StatementError as exc:
        raise ReceiptError(str(exc)) from None
    wanted: dict[str, object] = {
        "recording_id": manifest.recording_id, "device_id": manifest.device_id,
        "device_key": manifest.device_key_fingerprint, "manifest_seq": manifest.seal_seq,
        "manifest_hash": manifest.seal_hash, "files": len(manifest.files),
        "bytes": manifest.bytes, "sealed": True,
    }
    wrong = [f"{name} {receipt.get(name)!r} where the manifest has {value!r}"
             for name, value in wanted.items() if receipt.get(name) != value]
    if wrong:
        raise ReceiptError("the receipt is not for this manifest: " + "; ".join(wrong))
    return receipt


def _named_key(data: bytes | Mapping[str, Any]) -> str:
    if isinstance(data, Mapping):
        return str(data.get("server_key", ""))
    try:
        parsed = parse_statement(data)
    except StatementError as exc:
        raise ReceiptError(str(exc)) from None
    return str(parsed.get("server_key", "")) if isinstance(parsed, dict) else ""
