"""`bodycam-server init`: a new data directory with everything a server needs.

Order matters: the database and the blob store are reached first (nothing written if
they cannot be), then the keys, and `server.toml` last, so a directory with a settings
file is always a whole one. It never overwrites: a second init on the same directory is
refused, because a new signing key or CA would cut every camera off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bodycam.server.database.engine import Database
from bodycam.server.database.migrate import upgrade
from bodycam.server.identity.offload_table import write_offload_table
from bodycam.server.identity.signing_key import KEY_FILE, create_signing_key, public_b64
from bodycam.server.identity.tls import adopt_certificate, ca_pem, make_certificate
from bodycam.server.people.secret_box import create_box_key
from bodycam.server.settings import SETTINGS_FILE, ServerSettings, SettingsError, normalise_url
from bodycam.server.storage.folder import FolderBlobStore
from bodycam.server.storage.open import FOLDER, open_blob_store

__all__ = ["InitRequest", "initialise"]


@dataclass(frozen=True)
class InitRequest:
    data_dir: Path
    url: str
    database: str | None = None
    blobs: str | None = None
    s3_endpoint: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None


def _refuse_existing(data_dir: Path) -> None:
    for path in (data_dir / SETTINGS_FILE, data_dir / "identity" / KEY_FILE,
                 data_dir / "camera-offload.toml"):
        if path.exists():
            raise SettingsError(f"{path} exists: {data_dir} is already a server's data "
                                "directory, and init never replaces its keys (every camera "
                                "pins them). Fix: use another --data-dir, or restore "
                                "instead of re-initialising")


def initialise(request: InitRequest) -> ServerSettings:
    """Raises SettingsError, TlsError, StorageError or SQLAlchemy errors, naming the fix."""
    origin, host, _port = normalise_url(request.url)
    own = (request.tls_cert, request.tls_key, request.tls_ca)
    if any(own) and not all(own):
        raise SettingsError("the agency's own certificate needs all three: --tls-cert, "
                            "--tls-key and --tls-ca (the CA cameras will pin)")
    data_dir = request.data_dir.resolve()
    _refuse_existing(data_dir)
    data_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    settings = ServerSettings(
        data_dir=data_dir, url=origin,
        database=request.database or ServerSettings.default_database(data_dir),
        blobs=request.blobs or FOLDER, s3_endpoint=request.s3_endpoint)
    blobs = open_blob_store(settings)
    if isinstance(blobs, FolderBlobStore):
        blobs.create()
    else:
        settings.spool_dir.mkdir(mode=0o750, exist_ok=True)
    blobs.check()
    database = Database(settings.database)
    try:
        upgrade(database)
    finally:
        database.dispose()
    identity = settings.identity_dir
    identity.mkdir(mode=0o700, exist_ok=True)
    key = create_signing_key(identity)
    create_box_key(identity)
    if request.tls_cert and request.tls_key and request.tls_ca:
        adopt_certificate(identity, host, request.tls_cert, request.tls_key, request.tls_ca)
    else:
        make_certificate(identity, host)
    write_offload_table(settings.offload_file, url=origin, host=host, ca_pem=ca_pem(identity),
                        server_key=public_b64(key))
    settings.write()
    return settings
