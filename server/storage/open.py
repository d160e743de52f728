"""The blob store `server.toml` names: the folder in the data directory, or S3."""

from __future__ import annotations

from bodycam.server.settings import ServerSettings, SettingsError
from bodycam.server.storage.blobs import BlobStore
from bodycam.server.storage.folder import FolderBlobStore
from bodycam.server.storage.s3 import S3BlobStore

__all__ = ["FOLDER", "open_blob_store"]

FOLDER = "folder"


def open_blob_store(settings: ServerSettings) -> BlobStore:
    if settings.blobs == FOLDER:
        return FolderBlobStore(settings.blob_dir, reserve_bytes=settings.reserve_mb * 1024**2)
    if settings.blobs.startswith("s3://"):
        return S3BlobStore(settings.blobs, settings.spool_dir, endpoint=settings.s3_endpoint)
    raise SettingsError(f"blobs = {settings.blobs!r}: give {FOLDER!r} (the default, inside "
                        "the data directory) or s3://BUCKET[/PREFIX]")
