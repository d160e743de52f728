"""Rules for the `[offload]` keys: the pinned evidence server (URL, address, CA, key).

A camera trusts exactly one server, named by what `bodycam-server init` writes to
`camera-offload.toml`. Each value is checked the way the offload will use it (the URL
parsed as the client parses it, the CA loaded as TLS loads it, the key as the receipt
check loads it), so a file that passes here cannot fail later for its form.

Nothing secret belongs here: a private key pasted into `server_ca` or `server_key` is
refused and never repeated in a message.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bodycam.firmware.config.rules import InvalidValueError, Rule, _text

__all__ = ["CaCertificates", "Ed25519Key", "HttpsUrl", "IpAddress", "ServerUrl",
           "parse_server_url"]

MAX_CA_BYTES: Final = 16 * 1024  # a CA certificate is 1-2 KiB; a chain of a few fits
MAX_CA_CERTIFICATES: Final = 4
_PRIVATE_PEM: Final = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PRIVATE_SHOWN_AS: Final = "<a PEM private key, not repeated>"
_HOST_NAME: Final = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


@dataclass(frozen=True)
class ServerUrl:
    """A parsed `offload.server_url`: what TLS checks (host) and where to connect."""

    host: str  # as in the certificate: a DNS name, or an IP address without brackets
    port: int

    @property
    def address(self) -> str | None:
        """The host when it is an IP address (the camera connects there), else None."""
        try:
            return str(ipaddress.ip_address(self.host))
        except ValueError:
            return None

    @property
    def origin(self) -> str:
        """`https://host:port`, the base of every request path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def parse_server_url(text: str) -> ServerUrl:
    """`https://host[:port][/]`, nothing else; ValueError says what is wrong and the fix."""
    try:
        parts: SplitResult = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme != "https":
        raise ValueError("only https:// is allowed: evidence never travels unencrypted, and "
                         "the server's certificate is what the camera checks")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user or password in the URL: the camera signs its requests "
                         "with its own key")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("give only https://host:port; the offload paths are fixed "
                         "(/api/v1/offload/...)")
    host = parts.hostname or ""
    if not host:
        raise ValueError("the URL names no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"{host!r} is neither an IP address nor a host name") from None
    return ServerUrl(host=host.lower(), port=443 if port is None else port)


class HttpsUrl(Rule):
    """`offload.server_url`: empty (offload off) or https://host:port."""

    type_name = "string"

    def allowed(self) -> str:
        return ('"" (offload off) or "https://HOST:PORT" (an IP address, or a name together '
                "with offload.server_address)")

    def convert(self, value: object) -> object:
        text = _text(value).strip()
        if text:
            try:
                parse_server_url(text)
            except ValueError as exc:
                raise InvalidValueError.of(value, str(exc)) from None
        return text


class IpAddress(Rule):
    """`offload.server_address`: empty or one IPv4/IPv6 address (the firewall's one hole)."""

    type_name = "string"

    def allowed(self) -> str:
        return '"" (the URL\'s host is the address) or an IPv4 or IPv6 address'

    def convert(self, value: object) -> object:
        text = _text(value).strip()
        if not text:
            return ""
        try:
            address = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            raise InvalidValueError.of(value, "write the server's address on the dock "
                                              "network, e.g. 10.20.0.5; the camera looks "
                                              "up no names") from None
        if address.is_unspecified or address.is_multicast:
            raise InvalidValueError.of(value, "an unspecified or multicast address reaches "
                                              "no single server")
        return str(address)


def _pem_given(text: str) -> object:
    """What a message may show of a PEM value: never a private key, never a whole PEM."""
    if _PRIVATE_PEM.search(text):
        return _PRIVATE_SHOWN_AS
    return text if len(text) <= 60 else f"<PEM text of {len(text)} characters>"


class CaCertificates(Rule):
    """`offload.server_ca`: the PEM of the CA that signs the server's TLS certificate."""

    type_name = "string"

    def allowed(self) -> str:
        return (f'"" or 1-{MAX_CA_CERTIFICATES} PEM X.509 CA certificates (basicConstraints '
                "CA:TRUE), as in the server's camera-offload.toml")

    def convert(self, value: object) -> object:
        text = _text(value).strip()
        if not text:
            return ""
        given = _pem_given(text)
        if given == _PRIVATE_SHOWN_AS:
            raise InvalidValueError.of(given, "this is a private key: never put a server "
                                              "key on a camera; copy server_ca from "
                                              "camera-offload.toml")
        if len(text) > MAX_CA_BYTES:
            raise InvalidValueError.of(given, f"at most {MAX_CA_BYTES} characters; copy only "
                                              "the CA certificate")
        try:
            certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise InvalidValueError.of(given, "not PEM certificates (-----BEGIN CERTIFICATE"
                                              "----- ...); copy server_ca from the server's "
                                              "camera-offload.toml as it is") from None
        if len(certificates) > MAX_CA_CERTIFICATES:
            raise InvalidValueError.of(given, f"{len(certificates)} certificates; at most "
                                              f"{MAX_CA_CERTIFICATES}")
        for number, certificate in enumerate(certificates, start=1):
            if not _is_ca(certificate):
                raise InvalidValueError.of(
                    given, f"certificate {number} ({certificate.subject.rfc4514_string()}) "
                           "is not a CA certificate (no basicConstraints CA:TRUE): give the "
                           "CA that signed the server's certificate, not the server's own")
        return text + "\n"


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


class Ed25519Key(Rule):
    """`offload.server_key`: base64 of the server's raw 32-byte Ed25519 public key."""

    type_name = "string"

    def allowed(self) -> str:
        return '"" or base64 of a raw 32-byte Ed25519 public key (44 characters)'

    def convert(self, value: object) -> object:
        text = _text(value).strip()
        if not text:
            return ""
        if _PRIVATE_PEM.search(text):
            raise InvalidValueError.of(_PRIVATE_SHOWN_AS, "this is a private key: copy "
                                                          "server_key from "
                                                          "camera-offload.toml")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValueError.of(value, "not base64; copy server_key from the server's "
                                              "camera-offload.toml") from None
        if len(raw) != 32:
            raise InvalidValueError.of(value, f"{len(raw)} bytes, an Ed25519 public key has "
                                              "32; copy server_key from camera-offload.toml")
        try:
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise InvalidValueError.of(value, "not an Ed25519 public key") from None
        return base64.b64encode(raw).decode("ascii")

