"""A custodian's client of the evidence server's JSON API (httpx): sign in, fetch a
recording's files exactly as the camera wrote them, and ask for a grant (the key
holder's re-wrapped age headers for the custodian's or a prosecutor's own key).

Trust: the server's TLS certificate is checked against the CA file given (`--ca`, the
server's identity/tls-ca.pem, or the self-signed certificate itself), never switched
off. Nothing the server says is trusted for the evidence itself: what is downloaded is
checked by `bodycam-evidence` against the camera's signed manifest, and a re-wrapped
header only opens a payload whose file key it really carries.

Where the sign-in is kept: $BODYCAM_SERVER_TOKEN (an API token) wins; otherwise
`bodycam-evidence server sign-in` keeps the server's URL, CA file and a new API token in
$XDG_CONFIG_HOME/bodycam/server.toml (~/.config/bodycam/server.toml), mode 0600, in a
directory of mode 0700; `sign-out` revokes the token and removes the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import httpx

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.evidence.store import MANIFEST_NAME

__all__ = ["CONFIG_FILE", "TOKEN_ENV", "EvidenceServer", "Grant", "ServerConfig",
           "ServerError", "check_recording_id", "config_path", "download_recording",
           "forget_config", "load_config", "sign_in"]

TOKEN_ENV: Final = "BODYCAM_SERVER_TOKEN"
CONFIG_FILE: Final = "server.toml"
_TIMEOUT: Final = httpx.Timeout(120.0, connect=30.0)
_TOKEN_PATTERN_HINT: Final = "an API token (POST /api/v1/tokens, or `server sign-in`)"
# What a camera names a recording and a segment: a server's answer naming anything else
# ("../x") is never made into a path here.
RECORDING_NAME: Final = re.compile(r"[A-Za-z0-9-]{1,32}-\d{8}T\d{6}Z-[0-9a-f]{4}")
_SEGMENT_NAME: Final = re.compile(r"\d{5}(-\d+)?(\.truncated)?\.age")


class ServerError(Exception):
    """The server could not be reached, or refused; the message says what and the fix.
    `code` is the server's error code (the rule that refused, e.g. own_recording)."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bodycam" / CONFIG_FILE


@dataclass(frozen=True)
class ServerConfig:
    """Which server, how its certificate is checked, and the API token to send."""

    url: str
    ca: Path | None
    token: str | None
    token_id: str | None = None
    username: str | None = None

    def save(self, path: Path | None = None) -> Path:
        """Written 0600 in a 0700 directory, replaced whole (never half written)."""
        path = path or config_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = ["# bodycam-evidence server sign-in (keep private: it holds an API token)",
                 f"url = {json.dumps(self.url)}"]
        values = {"ca": str(self.ca) if self.ca else None, "token": self.token,
                  "token_id": self.token_id, "username": self.username}
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(partial, path)
        return path


def load_config(url: str | None, ca: Path | None, path: Path | None = None) -> ServerConfig:
    """The server to talk to: `url`/`ca` as given win over the saved sign-in; the token
    comes from $BODYCAM_SERVER_TOKEN, else from the saved sign-in of the same URL."""
    path = path or config_path()
    saved: dict[str, Any] = {}
    try:
        saved = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ServerError(f"{path} is unreadable ({exc}). Fix: sign in again "
                          "(bodycam-evidence server sign-in)") from None
    chosen = (url or str(saved.get("url") or "")).rstrip("/")
    if not chosen:
        raise ServerError("no evidence server given. Fix: --server https://HOST:PORT, or "
                          "sign in once with `bodycam-evidence server sign-in --server URL`")
    same = str(saved.get("url", "")).rstrip("/") == chosen
    env_token = os.environ.get(TOKEN_ENV)
    token = env_token or (str(saved["token"]) if same and saved.get("token") else None)
    saved_ca = Path(str(saved["ca"])) if same and saved.get("ca") else None
    return ServerConfig(chosen, ca or saved_ca, token,
                        None if env_token else saved.get("token_id"),
                        saved.get("username") if same else None)


def forget_config(path: Path | None = None) -> bool:
    path = path or config_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _tls(ca: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise ServerError(f"--ca {ca}: not a readable PEM certificate ({exc}). Fix: give the "
                          "server's identity/tls-ca.pem (or its certificate)") from None


def _refusal(answer: httpx.Response, what: str) -> ServerError:
    try:
        body = answer.json()
        code = str(body.get("error", ""))
        message = str(body.get("message", ""))
    except ValueError:
        code, message = "", answer.text[:300]
    fix = ""
    if answer.status_code == 401:
        fix = " Fix: sign in again (bodycam-evidence server sign-in)"
    return ServerError(f"{what}: the server refused ({answer.status_code} {code}): "
                       f"{message}{fix}", code, answer.status_code)


@dataclass(frozen=True)
class Grant:
    """A grant's answer: headers by segment file, the manifest the server holds."""

    nonce: str
    expires: str
    recipient: str
    purpose: str
    headers: dict[str, bytes]
    manifest: bytes

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Grant:
        try:
            return cls(str(body["grant"]), str(body["expires"]), str(body["recipient"]),
                       str(body["purpose"]),
                       {str(k): base64.b64decode(v, validate=True)
                        for k, v in body["headers"].items()},
                       base64.b64decode(body["manifest"], validate=True))
        except (KeyError, TypeError, AttributeError, ValueError, binascii.Error):
            raise ServerError("the server's grant answer is not a grant (no headers and "
                              "manifest in base64): is this a bodycam evidence server?"
                              ) from None


class EvidenceServer:
    """One server, signed in with an API token."""

    def __init__(self, config: ServerConfig, *, transport: httpx.BaseTransport | None = None
                 ) -> None:
        if not config.token:
            raise ServerError(f"not signed in to {config.url}. Fix: bodycam-evidence server "
                              f"sign-in --server {config.url}, or set ${TOKEN_ENV} to "
                              f"{_TOKEN_PATTERN_HINT}")
        self.config = config
        self._http = httpx.Client(base_url=config.url, verify=_tls(config.ca),
                                  timeout=_TIMEOUT, transport=transport,
                                  headers={"Authorization": f"Bearer {config.token}"})

    def __enter__(self) -> EvidenceServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unreachable(self.config, exc) from None
        if answer.status_code >= 300:
            raise _refusal(answer, what)
        return answer

    def recording(self, recording_id: str) -> dict[str, Any]:
        """The recording's page: its files with their state."""
        found: dict[str, Any] = self._send(
            "GET", f"/api/v1/recordings/{recording_id}", f"recording {recording_id}").json()
        return found

    def fetch(self, recording_id: str, name: str) -> bytes:
        """One file exactly as the server stores it (checked later, not trusted here)."""
        return self._send("GET", f"/api/v1/recordings/{recording_id}/files/{name}",
                          f"{name} of {recording_id}").content

    def grant(self, recording_id: str, recipient: str, reason: str, purpose: str,
              segments: Sequence[str] | None = None) -> Grant:
        body: dict[str, Any] = {"recipient": recipient, "reason": reason,
                                "purpose": purpose}
        if segments:
            body["segments"] = list(segments)
        answer = self._send("POST", f"/api/v1/recordings/{recording_id}/grants",
                            f"a grant ({purpose}) for {recording_id}", json=body)
        return Grant.from_json(answer.json())

    def case(self, reference: str) -> dict[str, Any]:
        """A case with its recordings (the prosecutor package's list)."""
        found: dict[str, Any] = self._send("GET", "/api/v1/cases/detail", f"case {reference}",
                                           params={"reference": reference}).json()
        return found

    def custody(self, recording_id: str) -> bytes:
        """The recording's chain-of-custody report (JSON bytes, as served)."""
        return self._send("GET", f"/api/v1/recordings/{recording_id}/custody",
                          f"the custody report of {recording_id}").content

    def revoke(self, token_id: str) -> None:
        self._send("DELETE", f"/api/v1/tokens/{token_id}", "revoking the API token")


def _unreachable(config: ServerConfig, exc: httpx.HTTPError) -> ServerError:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return ServerError(f"{config.url}: its TLS certificate is not the one pinned "
                           f"({config.ca or 'the system trust store'}): {text}. Fix: give "
                           "the server's CA file with --ca (identity/tls-ca.pem); if it "
                           "was pinned before, the server may not be the agency's", "tls")
    return ServerError(f"{config.url} cannot be reached ({text or type(exc).__name__}). "
                       "Fix: check the URL and the network", "unreachable")


def sign_in(url: str, ca: Path | None, username: str, password: str, code: str, *,
            token_name: str, days: int, transport: httpx.BaseTransport | None = None
            ) -> ServerConfig:
    """Password + TOTP code -> a session, which makes an API token for this workstation
    and is then ended (the token is what is kept)."""
    url = url.rstrip("/")
    with httpx.Client(base_url=url, verify=_tls(ca), timeout=_TIMEOUT,
                      transport=transport) as http:
        config = ServerConfig(url, ca, None)
        try:
            started = http.post("/api/v1/session", json={
                "username": username, "password": password, "code": code})
            if started.status_code != 200:
                raise _refusal(started, f"signing in as {username}")
            csrf = {"X-CSRF-Token": str(started.json()["csrf_token"])}
            made = http.post("/api/v1/tokens", headers=csrf,
                             json={"name": token_name, "days": days})
            if made.status_code != 201:
                raise _refusal(made, "making an API token")
            http.delete("/api/v1/session", headers=csrf)
        except httpx.HTTPError as exc:
            raise _unreachable(config, exc) from None
    token = made.json()
    return ServerConfig(url, ca.resolve() if ca else None, str(token["token"]),
                        str(token["id"]), username)


def download_recording(server: EvidenceServer, recording_id: str, directory: Path) -> Path:
    """The recording's manifest, the server's receipt and every stored segment, exactly as
    served, into directory/<recording id>/ (made new, 0700); the path. A segment the
    server does not hold whole is left out: verification names it as missing."""
    check_recording_id(recording_id)
    page = server.recording(recording_id)
    target = directory / recording_id
    target.mkdir(mode=0o700)
    (target / MANIFEST_NAME).write_bytes(server.fetch(recording_id, MANIFEST_NAME))
    try:  # what the server signed it holds: verify checks it against the manifest
        (target / RECEIPT_NAME).write_bytes(server.fetch(recording_id, RECEIPT_NAME))
    except ServerError as exc:
        if exc.code != "no_receipt":
            raise
    for item in page.get("files", []):
        name = str(item.get("name", ""))
        if _SEGMENT_NAME.fullmatch(name) and item.get("complete"):
            (target / name).write_bytes(server.fetch(recording_id, name))
    return target


def check_recording_id(recording_id: str) -> None:
    if not RECORDING_NAME.fullmatch(recording_id):
        raise ServerError(f"{recording_id[:100]!r} is not a recording id (as the camera "
                          "names them: DEVICE-YYYYMMDDTHHMMSSZ-xxxx). Fix: copy it from "
                          "the server's recording page or search")
