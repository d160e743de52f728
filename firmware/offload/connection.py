"""One HTTPS connection to the pinned evidence server, and nowhere else.

TLS 1.3 only; the only trust anchor is `offload.server_ca` (no system CAs), and the
certificate must name the URL's host. The camera connects to the URL's IP address or to
`offload.server_address`, never through a name lookup or a proxy: its firewall lets it
reach that one address (docs/technician.md, "The dock network").

Certificate validity dates are not checked. The camera's clock may be unset until the
dock's time sync, and that needs this very connection; the pinned CA belongs to the
agency's server alone, and nothing the camera acts on rests on TLS: every receipt and
time statement must verify under the pinned server key as well.

Python's http.client (standard library, no extra dependency on the camera) keeps one
connection open across requests; a PATCH body is streamed piece by piece so the
bandwidth limit and an undock can act between pieces.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bodycam.firmware.config.model import OffloadConfig
from bodycam.firmware.config.offload_rules import ServerUrl, parse_server_url

__all__ = ["Connection", "OffloadError", "RefusedError", "Response", "UnreachableError",
           "WrongServerError", "tls_context"]

_NO_CHECK_TIME: Final = 0x200000  # OpenSSL X509_V_FLAG_NO_CHECK_TIME (see the docstring)
MAX_ANSWER_BYTES: Final = 1024 * 1024  # every answer is small JSON
# The kernel's send buffer, kept small: the socket timeout then measures the link, not a
# megabyte-sized buffer draining over a slow dock uplink while the camera waits for the
# answer (a healthy upload timed out), and a stalled link is noticed after the timeout.
# 64 KiB (the kernel doubles it) still fills a LAN: the rate is bounded by buffer / RTT.
SEND_BUFFER: Final = 64 * 1024


class OffloadError(Exception):
    """Something kept the offload from going on; the message says what and the fix."""

    code = "error"


class UnreachableError(OffloadError):
    """No answer: no route, refused, timed out, cut off. Transient: try again later."""

    code = "unreachable"


class WrongServerError(OffloadError):
    """The other end is not the pinned server (certificate or signing key): the camera
    uploads nothing to it and removes nothing on its word."""

    code = "wrong_server"


class RefusedError(OffloadError):
    """The server answered with a refusal (docs/offload-protocol.md "Errors")."""

    def __init__(self, status: int, code: str, message: str,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body: Mapping[str, Any] = body or {}

    @property
    def transient(self) -> bool:
        """5xx (but full storage) and 401 about time clear up by themselves; the rest
        needs someone to act (damaged, fork, invalid, not enrolled, storage full)."""
        return self.status >= 500 and self.code != "storage_full"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise OffloadError(f"the server answered {self.status} with something that is "
                               "not JSON") from None
        if not isinstance(value, dict):
            raise OffloadError(f"the server answered {self.status} with JSON that is not an "
                               "object")
        return value

    def refusal(self) -> RefusedError:
        """This answer as the refusal it is (JSON error body, or the bare status)."""
        try:
            body = self.json()
        except OffloadError:
            body = {}
        return RefusedError(self.status, str(body.get("error", "http_error")),
                       str(body.get("message", self.body[:200].decode("utf-8", "replace"))),
                       body)


def tls_context(server_ca: str) -> ssl.SSLContext:
    """TLS 1.3, the pinned CA alone, host name checked, validity dates not (see above)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(cadata=server_ca)
    context.verify_flags |= _NO_CHECK_TIME
    return context


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address`, with TLS (SNI and the certificate check) for the URL's host."""

    def __init__(self, server: ServerUrl, address: str, context: ssl.SSLContext,
                 timeout: float) -> None:
        super().__init__(server.host, server.port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class Connection:
    """Requests to the server over one kept-alive connection; reconnects when needed."""

    def __init__(self, config: OffloadConfig) -> None:
        self._server = parse_server_url(config.server_url)
        self._base = config.server_url.rstrip("/")
        address = config.server_address or self._server.address
        if address is None:  # the configuration check makes this impossible
            raise OffloadError("offload.server_address is needed for a host name URL")
        self._http = _PinnedHTTPSConnection(self._server, address,
                                            tls_context(config.server_ca),
                                            config.timeout_seconds)

    def url(self, path: str) -> str:
        """The absolute URL of `path` as the server knows itself (what is signed)."""
        return self._base + path

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes | Iterable[bytes] | None = None) -> Response:
        """Send one request and read the whole (small) answer. A streamed body needs
        Content-Length in `headers`. Raises UnreachableError or WrongServerError."""
        try:
            self._http.request(method, path, body=body, headers=dict(headers))
            answer = self._http.getresponse()
            data = answer.read(MAX_ANSWER_BYTES + 1)
            if len(data) > MAX_ANSWER_BYTES:
                self.close()
                raise OffloadError(f"the server's answer to {method} {path} is larger than "
                                   f"{MAX_ANSWER_BYTES} bytes")
            if answer.will_close:
                self.close()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()},
                            data)
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise WrongServerError(
                f"the server's TLS certificate is not the pinned server's ({exc.verify_message}"
                f"): it must be signed by offload.server_ca and name {self._server.host}; "
                "provision the camera with this server's camera-offload.toml") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise UnreachableError(f"{self._server.origin}: {exc or type(exc).__name__}") from None
        except BaseException:  # e.g. the body's pieces stopped for an undock: start afresh
            self.close()
            raise

    def close(self) -> None:
        self._http.close()
