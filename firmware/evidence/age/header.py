"""The age v1 header: text syntax, strict parsing and the header MAC.

Parsing follows age-encryption.org/v1 to the letter (as the reference Go implementation
does): canonical unpadded base64, stanza bodies wrapped at 64 columns and ended by a
short line, arguments of visible ASCII, an exact version line and a ``--- MAC`` line.
Anything else is a HeaderError, because a lenient parser is an attack surface and the
conformance vectors test exactly these rules.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bodycam.firmware.evidence.age.errors import HeaderError, UnsupportedError

VERSION_LINE = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"->"
FOOTER_PREFIX = b"---"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3
MAC_SIZE = 32
# Generous for any real stanza (post-quantum shares are ~1.5 kB); bounds memory on garbage.
MAX_LINE = 64 * 1024
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*")
_ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"


def b64encode(data: bytes) -> str:
    """Standard base64 without padding, as age writes it."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: bytes) -> bytes:
    """Decode canonical unpadded base64 only; anything else raises ValueError.

    Python's decoder tolerates non-zero trailing bits, so canonicity is checked by
    re-encoding: each byte string has exactly one valid encoding.
    """
    if not _B64_CHARS.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not unpadded base64") from None
    if b64encode(data).encode("ascii") != text:
        raise ValueError("non-canonical base64")
    return data


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA256 of the header up to and including ``---``, keyed from the file key."""
    return hmac.new(hkdf_sha256(file_key, b"", b"header"), mac_input, sha256).digest()


def _valid_arg(arg: str) -> bool:
    return bool(arg) and all(33 <= ord(c) <= 126 for c in arg)


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> TYPE ARGS...`` and a binary body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        words = (self.type, *self.args)
        if not all(_valid_arg(w) for w in words):
            raise ValueError(f"stanza arguments must be non-empty visible ASCII: {words!r}")
        text = b64encode(self.body)
        # Wrapped at 64 columns; the last line is always shorter (possibly empty).
        lines = [text[i:i + COLUMNS] for i in range(0, len(text) + 1, COLUMNS)]
        return ("-> " + " ".join(words) + "\n" + "\n".join(lines) + "\n").encode("ascii")


@dataclass(frozen=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header bytes the MAC covers: up to and including '---'


def encode_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    mac_input = _mac_input(stanzas)
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)).encode() + b"\n"


def _read_line(src: BinaryIO, what: str) -> bytes:
    line = src.readline(MAX_LINE + 1)
    if not line.endswith(b"\n"):
        if len(line) > MAX_LINE:
            raise HeaderError(f"header line longer than {MAX_LINE} bytes in {what}")
        raise HeaderError(f"file ends inside the header ({what}): not a complete age file")
    return line


def _check_version(line: bytes) -> None:
    if line == VERSION_LINE:
        return
    if line.strip().startswith(_ARMOR_BEGIN):
        raise UnsupportedError(
            "the file is ASCII-armored (-----BEGIN AGE ENCRYPTED FILE-----), which this "
            "tool does not read; decrypt it with `age -d`"
        )
    if line.startswith(b"age-encryption.org/"):
        raise HeaderError(
            f"unsupported age format version {line.rstrip()!r}; only age-encryption.org/v1 "
            "is known"
        )
    raise HeaderError("not an age file: the first line is not 'age-encryption.org/v1'")


def _parse_stanza(first: bytes, src: BinaryIO) -> Stanza:
    words = first[:-1].split(b" ")
    if words[0] != STANZA_PREFIX or len(words) < 2:
        raise HeaderError(f"malformed stanza line {first[:80]!r}")
    try:
        args = [w.decode("ascii") for w in words[1:]]
    except UnicodeDecodeError:
        args = []
    if not args or not all(_valid_arg(a) for a in args):
        raise HeaderError(f"malformed stanza arguments in {first[:80]!r}")
    body = bytearray()
    while True:
        line = _read_line(src, f"body of stanza {args[0]!r}")
        try:
            chunk = b64decode(line[:-1])
        except ValueError as exc:
            raise HeaderError(
                f"malformed body line {line[:80]!r} in stanza {args[0]!r} ({exc}); a stanza "
                "body must end with a line shorter than 64 columns"
            ) from None
        if len(chunk) > BYTES_PER_LINE:
            raise HeaderError(f"stanza {args[0]!r} body line longer than {COLUMNS} columns")
        body += chunk
        if len(chunk) < BYTES_PER_LINE:
            return Stanza(args[0], tuple(args[1:]), bytes(body))


def _parse_footer(line: bytes) -> bytes:
    words = line[:-1].split(b" ")
    if words[0] != FOOTER_PREFIX or len(words) != 2:
        raise HeaderError(f"malformed header MAC line {line[:80]!r}")
    try:
        mac = b64decode(words[1])
    except ValueError as exc:
        raise HeaderError(f"malformed header MAC ({exc})") from None
    if len(mac) != MAC_SIZE:
        raise HeaderError(f"header MAC is {len(mac)} bytes, expected {MAC_SIZE}")
    return mac


def read_header(src: BinaryIO) -> Header:
    """Read and strictly parse the header, leaving `src` at the first payload byte."""
    first = src.readline(MAX_LINE + 1)
    if not first:
        raise HeaderError("the file is empty: not an age file")
    _check_version(first)
    stanzas: list[Stanza] = []
    while True:
        line = _read_line(src, "stanza or MAC line")
        if line.startswith(FOOTER_PREFIX):
            return Header(tuple(stanzas), _parse_footer(line), _mac_input(stanzas))
        if not line.startswith(STANZA_PREFIX):
            raise HeaderError(f"expected a '->' stanza or the '---' MAC line, got {line[:80]!r}")
        stanzas.append(_parse_stanza(line, src))


def header_length(data: bytes) -> int:
    """Bytes of the age header at the start of `data` (HeaderError, UnsupportedError if
    they are not one): where a re-wrapped header is joined to a stored payload."""
    source = io.BytesIO(data)
    read_header(source)
    return source.tell()


def _mac_input(stanzas: Sequence[Stanza]) -> bytes:
    """The MAC'd header bytes. Strict parsing makes re-encoding byte-identical to the
    input (the reference implementation relies on the same property)."""
    return VERSION_LINE + b"".join(s.encode() for s in stanzas) + FOOTER_PREFIX
