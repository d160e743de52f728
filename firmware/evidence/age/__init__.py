"""age v1 (age-encryption.org/v1) streaming encryption and decryption.

Recipients and identities: post-quantum hybrid (``mlkem768x25519``, ``age1pq1...``,
hybrid.py) and X25519 (``age1...``, x25519.py). Passphrase (scrypt), armor and plugins
are refused cleanly. Built on `cryptography` primitives (HPKE with the X-Wing KEM,
ML-KEM-768, X25519, HKDF-SHA256, HMAC-SHA256, ChaCha20-Poly1305; ChaCha20 because the
Pi's CPUs have no AES instructions); only age's text framing is written here. Files
written here decrypt with `age -d -i KEY` (age >= 1.3 for hybrid recipients) and with
typage, and their files decrypt here.

The encryptor never holds more than one 64 KiB chunk of plaintext and hands only
ciphertext to its sink, so no plaintext media ever reaches storage. It refuses to mix
hybrid and X25519 recipients in one file (keys.MIXED_RECIPIENTS says why); the
decryptor reads such files, as age does. The decryptor releases plaintext chunk by
chunk, each only after its tag verified, exactly as `age -d` does: after a failure,
everything released before it is authentic.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, NoReturn

from bodycam.firmware.evidence.age import hybrid, x25519
from bodycam.firmware.evidence.age.errors import (
    AgeError,
    HeaderError,
    HmacError,
    NoIdentityMatch,
    PayloadError,
    TruncatedError,
    UnsupportedError,
)
from bodycam.firmware.evidence.age.header import (
    Header,
    Stanza,
    encode_header,
    header_mac,
    read_header,
)
from bodycam.firmware.evidence.age.keys import Identity, Recipient, refuse_mixed_recipients
from bodycam.firmware.evidence.age.stream import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    chunk_nonce,
    new_payload_nonce,
    open_chunk,
    payload_aead,
)

__all__ = [
    "CHUNK_SIZE",
    "AgeEncryptor",
    "AgeError",
    "DecryptResult",
    "HeaderError",
    "HmacError",
    "NoIdentityMatch",
    "PayloadError",
    "TruncatedError",
    "UnsupportedError",
    "decrypt",
    "open_payload",
    "wrap_file_key",
]

Sink = Callable[[bytes], object]


class AgeEncryptor:
    """Streams plaintext into an age file through `sink`, one sealed chunk at a time.

    The header and payload nonce go to `sink` in the constructor. `write()` buffers up
    to one 64 KiB chunk. age flags the last chunk as final and forbids an empty final
    chunk after a full one, so a full chunk cannot be sealed until it is known whether
    more data follows: after exactly 64 KiB the chunk stays `pending`, and it is sealed
    and emitted (as a non-final chunk) the moment byte 65 537 arrives. `close()` seals
    whatever is pending as the final chunk (a 64 KiB-multiple payload ends with a full
    final chunk; only an empty payload gives an empty final chunk).

    So the ciphertext on storage lags the plaintext by `pending` bytes (1..65 536 once
    data has been written); a writer that must bound its loss window pads its input.

    If `sink` raises, the stream is broken: further calls raise RuntimeError.
    """

    def __init__(self, recipients: Sequence[Recipient], sink: Callable[[bytes], None],
                 ) -> None:
        if not recipients:
            raise ValueError("an age file needs at least one recipient public key "
                             "(age1pq1... or age1...)")
        refuse_mixed_recipients(recipients)
        file_key = x25519.new_file_key()
        header = encode_header([wrap_file_key(file_key, r) for r in recipients], file_key)
        nonce = new_payload_nonce()
        self._aead = payload_aead(file_key, nonce)
        self._sink = sink
        self._buf = bytearray(CHUNK_SIZE)
        self._view = memoryview(self._buf)
        self._fill = 0
        self._counter = 0
        self._ciphertext = 0
        self._closed = False
        self._broken = False
        self._emit(header + nonce)

    @property
    def pending(self) -> int:
        """Plaintext bytes buffered in memory, not yet sealed or written."""
        return self._fill

    @property
    def ciphertext_bytes(self) -> int:
        """Bytes handed to the sink so far (header, nonce and sealed chunks)."""
        return self._ciphertext

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._check_open()
        view = memoryview(data).cast("B")
        while view:
            if self._fill == CHUNK_SIZE:  # more data follows, so this chunk is not final
                self._seal(self._view, final=False)
                self._fill = 0
            if self._fill == 0 and len(view) > CHUNK_SIZE:  # seal in place, no copy
                self._seal(view[:CHUNK_SIZE], final=False)
                view = view[CHUNK_SIZE:]
                continue
            take = min(CHUNK_SIZE - self._fill, len(view))
            self._view[self._fill:self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]

    def close(self) -> None:
        """Seal the pending bytes as the final chunk. Calling it again does nothing."""
        if self._closed:
            return
        self._check_open()
        self._seal(self._view[:self._fill], final=True)
        self._fill = 0
        self._closed = True

    def _check_open(self) -> None:
        if self._broken:
            raise RuntimeError("the age stream is broken: an earlier sink write failed")
        if self._closed:
            raise ValueError("the age stream is closed; start a new AgeEncryptor")

    def _seal(self, plaintext: memoryview, *, final: bool) -> None:
        sealed = self._aead.encrypt(chunk_nonce(self._counter, final), plaintext, None)
        self._counter += 1
        self._emit(sealed)

    def _emit(self, data: bytes) -> None:
        try:
            self._sink(data)
        except BaseException:
            self._broken = True
            raise
        self._ciphertext += len(data)


def wrap_file_key(file_key: bytes, recipient: Recipient) -> Stanza:
    """A stanza for `recipient` (hybrid or X25519); also the key holder's re-wrap."""
    if isinstance(recipient, hybrid.HybridRecipient):
        return hybrid.wrap(file_key, recipient)
    return x25519.wrap(file_key, recipient)


def _unwrap(stanza: Stanza, identity: Identity) -> bytes | None:
    if isinstance(identity, hybrid.HybridIdentity):
        return hybrid.unwrap(stanza, identity)
    return x25519.unwrap(stanza, identity)


@dataclass(frozen=True)
class DecryptResult:
    plaintext_bytes: int  # plaintext released to the destination
    chunks: int  # whole chunks released
    truncated: bool  # only with allow_truncated: the file ended before its final chunk


def decrypt(identities: Sequence[Identity], src: BinaryIO, dst: Sink | BinaryIO, *,
            allow_truncated: bool = False) -> DecryptResult:
    """Decrypt the age file `src` into `dst` (a callable or a binary file).

    Raises an AgeError subclass: HeaderError, NoIdentityMatch, HmacError or
    UnsupportedError before any plaintext is released; PayloadError after releasing
    every verified chunk before the failing one. With `allow_truncated` (power-loss
    salvage) a file that simply ends early -- no final chunk, or a short last piece that
    does not authenticate -- returns normally with `truncated=True` instead of raising
    TruncatedError; a damaged full-size chunk is still a PayloadError.
    """
    write = _sink_of(dst)
    file_key, nonce = open_payload(identities, src)
    return _PayloadReader(file_key, nonce, src, write).run(allow_truncated)


def open_payload(identities: Sequence[Identity], src: BinaryIO) -> tuple[bytes, bytes]:
    """Read and authenticate the header; returns (file key, payload nonce).

    `src` is left at the first payload chunk. Raises HeaderError, NoIdentityMatch,
    HmacError or UnsupportedError: nothing after a header that fails may be trusted.
    """
    header = read_header(src)
    if not identities:
        raise ValueError("decrypt needs at least one identity (AGE-SECRET-KEY-PQ-1... or "
                         "AGE-SECRET-KEY-1...)")
    file_key = _file_key(header, identities)
    if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
        raise HmacError("the header MAC does not verify: the file header was altered")
    nonce = src.read(PAYLOAD_NONCE_SIZE)
    if len(nonce) != PAYLOAD_NONCE_SIZE:
        raise HeaderError("the file ends before the payload nonce: nothing was encrypted in it")
    return file_key, nonce


def _sink_of(dst: Sink | BinaryIO) -> Sink:
    write = getattr(dst, "write", None)
    if callable(write):
        return write  # type: ignore[no-any-return]
    if callable(dst):
        return dst
    raise TypeError("dst must be a binary file or a callable taking bytes")


def _file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    types = [s.type for s in header.stanzas]
    if "scrypt" in types:
        if len(types) != 1:
            raise HeaderError("an scrypt (passphrase) stanza must be the only stanza")
        raise UnsupportedError(
            "the file is passphrase-encrypted (scrypt); this tool only decrypts files "
            "for post-quantum and X25519 identities: use `age -d` and the passphrase"
        )
    for identity in identities:
        for stanza in header.stanzas:
            file_key = _unwrap(stanza, identity)
            if file_key is not None:
                return file_key
    raise NoIdentityMatch(
        f"no given identity ({len(identities)} tried) is a recipient of this file "
        f"(stanza types: {', '.join(types) or 'none'}); use the agency identity file "
        f"whose public key the camera was provisioned with{_kind_hint(types, identities)}"
    )


def _kind_hint(types: Sequence[str], identities: Sequence[Identity]) -> str:
    """After a move from X25519 to post-quantum keys, the likeliest reason for no match."""
    given_hybrid = {isinstance(i, hybrid.HybridIdentity) for i in identities}
    if x25519.STANZA_TYPE in types and given_hybrid == {True}:
        return (" (it is encrypted to an X25519 key and only post-quantum identities were "
                "given: recordings made before the move need the X25519 identity kept for "
                "them)")
    if hybrid.STANZA_TYPE in types and given_hybrid == {False}:
        return (" (it is encrypted to a post-quantum key and only X25519 identities were "
                "given: use the AGE-SECRET-KEY-PQ-1... identity)")
    return ""


class _PayloadReader:
    """Opens STREAM chunks one at a time, releasing each only after it verifies."""

    def __init__(self, file_key: bytes, nonce: bytes, src: BinaryIO, write: Sink) -> None:
        self._aead = payload_aead(file_key, nonce)
        self._src = src
        self._write = write
        self._buf = bytearray(SEALED_CHUNK_SIZE)
        self._released = 0
        self._chunks = 0

    def run(self, allow_truncated: bool) -> DecryptResult:
        try:
            while not self._next_chunk():
                pass
        except TruncatedError:
            if not allow_truncated:
                raise
            return DecryptResult(self._released, self._chunks, truncated=True)
        return DecryptResult(self._released, self._chunks, truncated=False)

    def _next_chunk(self) -> bool:
        """Release one chunk; True when it was the final one."""
        n = self._read_into(memoryview(self._buf))
        piece = memoryview(self._buf)[:n]
        if n == 0:
            self._fail(TruncatedError, "the file ends without a final chunk")
        if n < SEALED_CHUNK_SIZE:  # a short piece can only be the final chunk
            if n == TAG_SIZE and self._chunks > 0:
                self._fail(PayloadError, "an empty final chunk follows a full chunk")
            plaintext = self._open(piece, final=True)
            if plaintext is None:
                self._fail(TruncatedError,
                           f"the last {n} bytes do not form a chunk that authenticates "
                           "(cut short mid-chunk, or corrupt)")
            self._release(plaintext)
            return True
        final = False
        plaintext = self._open(piece, final=False)
        if plaintext is None:
            final = True
            plaintext = self._open(piece, final=True)
        if plaintext is None:
            self._fail(PayloadError, f"chunk {self._chunks} failed authentication (corrupt)")
        self._release(plaintext)
        if final and self._src.read(1):
            self._fail(PayloadError, "trailing data after the final chunk")
        return final

    def _open(self, piece: memoryview, *, final: bool) -> bytes | None:
        return open_chunk(self._aead, self._chunks, piece, final=final)

    def _release(self, plaintext: bytes) -> None:
        self._write(plaintext)
        self._released += len(plaintext)
        self._chunks += 1

    def _fail(self, kind: type[PayloadError], problem: str) -> NoReturn:
        raise kind(f"payload failure: {problem}; {self._released} bytes in {self._chunks} "
                   "verified chunks were released before it", self._released, self._chunks)

    def _read_into(self, view: memoryview) -> int:
        """Fill `view` from src, stopping early only at end of file."""
        readinto = getattr(self._src, "readinto", None)
        got = 0
        while got < len(view):
            if readinto is not None:
                n = readinto(view[got:])
            else:
                data = self._src.read(len(view) - got)
                view[got:got + len(data)] = data
                n = len(data)
            if not n:
                break
            got += n
        return got
