"""The data directory: where everything of one server lives, and `server.toml` in it.

    DIR/server.toml          url, database, blobs (what `init` was told)
    DIR/identity/            the signing key; the TLS CA, certificate and key
    DIR/camera-offload.toml  the [offload] table for the cameras' provisioning file
    DIR/server.db            the SQLite database (default)
    DIR/blobs/               the blob folder (default)

Several `serve` processes read the same file; nothing in it changes while they run.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

__all__ = ["SETTINGS_FILE", "ServerSettings", "SettingsError", "normalise_url", "toml_string"]

SETTINGS_FILE: Final = "server.toml"
DEFAULT_RESERVE_MB: Final = 64
# A PATCH body that sends nothing for this long is ended and what arrived is kept: a
# cable pulled mid-upload never tells the server (no FIN), so without it the partial
# segment would stay uncounted and the camera would resend it whole.
DEFAULT_BODY_IDLE_S: Final = 120.0


class SettingsError(ValueError):
    """The data directory or a value in it is unusable; the message names the fix."""


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=True)


def normalise_url(text: str) -> tuple[str, str, int]:
    """(origin `https://host:port`, host, port) of the server's URL.

    The origin is what cameras put in front of every path and sign (`@target-uri`), so
    it has one spelling: lower-case host, explicit port, IPv6 in brackets."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port or 443
    except ValueError as exc:
        raise SettingsError(f"--url {text!r} is not a URL ({exc})") from None
    if parts.scheme != "https" or not parts.hostname:
        raise SettingsError(f"--url {text!r}: give https://HOST[:PORT], the address cameras "
                            "reach this server at (HTTPS only)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise SettingsError(f"--url {text!r}: give only https://HOST[:PORT]; the API paths "
                            "are fixed (/api/v1/offload/...)")
    host = parts.hostname.lower()
    try:
        shown = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        shown = host
    return f"https://{shown}:{port}", host, port


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    url: str  # the origin, normalised
    database: str  # a SQLAlchemy URL
    blobs: str  # "folder" or s3://bucket/prefix
    s3_endpoint: str | None = None
    reserve_mb: int = DEFAULT_RESERVE_MB
    body_idle_seconds: float = DEFAULT_BODY_IDLE_S

    @property
    def host(self) -> str:
        return normalise_url(self.url)[1]

    @property
    def port(self) -> int:
        return normalise_url(self.url)[2]

    @property
    def identity_dir(self) -> Path:
        return self.data_dir / "identity"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def offload_file(self) -> Path:
        return self.data_dir / "camera-offload.toml"

    @staticmethod
    def default_database(data_dir: Path) -> str:
        return f"sqlite:///{data_dir.resolve() / 'server.db'}"

    def write(self) -> None:
        lines = [
            "# The evidence server's settings, written by `bodycam-server init`.",
            "# A database URL may carry a password: prefer PGPASSWORD / ~/.pgpass.",
            f"url = {toml_string(self.url)}",
            f"database = {toml_string(self.database)}",
            f"blobs = {toml_string(self.blobs)}",
            f"s3_endpoint = {toml_string(self.s3_endpoint or '')}",
            "# Refuse uploads (507) when less than this is free on the blob folder's disk.",
            f"reserve_mb = {self.reserve_mb}",
            "# End an upload's body after this many seconds without a byte; keep what came",
            "# (a pulled dock cable: the camera resumes at that byte).",
            f"body_idle_seconds = {self.body_idle_seconds:g}",
        ]
        path = self.data_dir / SETTINGS_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")

    @classmethod
    def load(cls, data_dir: Path) -> ServerSettings:
        path = data_dir / SETTINGS_FILE
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{path} does not exist: {data_dir} is not a server data "
                                "directory. Fix: run `bodycam-server init --data-dir "
                                f"{data_dir} --url https://HOST:PORT` first") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path} cannot be read: {exc}") from None
        try:
            url = normalise_url(str(raw["url"]))[0]
            reserve = int(raw.get("reserve_mb", DEFAULT_RESERVE_MB))
            idle = float(raw.get("body_idle_seconds", DEFAULT_BODY_IDLE_S))
            if not 1 <= idle <= 3600:
                raise SettingsError(f"{path}: body_idle_seconds = {idle:g} is outside 1 to "
                                    "3600 s. Fix: set it to how long an upload may send "
                                    "nothing before it counts as cut off (default "
                                    f"{DEFAULT_BODY_IDLE_S:g})")
            return cls(data_dir=data_dir, url=url, database=str(raw["database"]),
                       blobs=str(raw["blobs"]), s3_endpoint=str(raw.get("s3_endpoint")) or None,
                       reserve_mb=reserve, body_idle_seconds=idle)
        except SettingsError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"{path}: {exc} is missing or wrong. Fix: compare with what "
                                "`bodycam-server init` writes") from None
