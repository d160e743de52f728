"""What one server process opens from its data directory; nothing in it is mutable state
another process could not see (the database and the blob store are the only state)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.server.database.engine import Database
from bodycam.server.identity.signing_key import load_signing_key
from bodycam.server.settings import ServerSettings
from bodycam.server.storage.blobs import BlobStore
from bodycam.server.storage.open import open_blob_store

__all__ = ["ServerContext"]


@dataclass
class ServerContext:
    settings: ServerSettings
    database: Database
    blobs: BlobStore
    signing_key: Ed25519PrivateKey
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def open(cls, data_dir: Path) -> ServerContext:
        """SettingsError / ValueError / StorageError name what is missing and the fix."""
        settings = ServerSettings.load(data_dir)
        return cls(settings, Database(settings.database), open_blob_store(settings),
                   load_signing_key(settings.identity_dir))

    def close(self) -> None:
        self.database.dispose()
