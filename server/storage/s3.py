"""Blobs in an S3-compatible object store (AWS S3, Ceph RGW, ...), through boto3.

Keys: `<prefix>/blobs/<sha256>` and `<prefix>/pieces/<key>`. A request body is spooled
to a local file first (so a body a broken link cut short is still kept up to its last
byte) and then written as one object; an object the store acknowledged is durable.
Credentials come from boto3's usual places (environment, ~/.aws, instance role), never
from the server's files; the endpoint from `--s3-endpoint`, or boto3's
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bodycam.server.storage.blobs import BLOCK, BlobStore, Spool, StorageError, StorageFullError

__all__ = ["S3BlobStore", "parse_s3_url"]

_FULL_CODES: Final = frozenset({"QuotaExceeded", "InsufficientStorage", "StorageFull"})
_SHA: Final = re.compile(r"[0-9a-f]{64}")
_PIECE: Final = re.compile(r"piece-[0-9a-f]{24}")
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket[/prefix]`; ValueError names the fix."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{url!r} is not s3://bucket[/prefix]")
    return parts.netloc, parts.path.strip("/")


class S3BlobStore(BlobStore):
    def __init__(self, url: str, spool_dir: Path, *, endpoint: str | None = None,
                 region: str | None = None) -> None:
        self.url = url
        self.spool_dir = spool_dir
        self.bucket, prefix = parse_s3_url(url)
        self._prefix = f"{prefix}/" if prefix else ""
        self.endpoint = endpoint
        self._client: Any = boto3.client(
            "s3", endpoint_url=endpoint, region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        self._transfer = TransferConfig(multipart_threshold=64 * BLOCK,
                                        multipart_chunksize=16 * BLOCK)

    def create(self) -> None:
        self.spool_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        self.check()

    def check(self) -> None:
        self.spool_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"the S3 bucket {self.bucket} cannot be reached ({exc}). Fix: "
                               "create it, check the endpoint (--s3-endpoint or "
                               "AWS_ENDPOINT_URL_S3) and the credentials (AWS_ACCESS_KEY_ID "
                               "/ AWS_SECRET_ACCESS_KEY in the service's environment)") from None

    def _blob(self, sha256: str) -> str:
        if not _SHA.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return f"{self._prefix}blobs/{sha256}"

    def _piece(self, key: str) -> str:
        if not _PIECE.fullmatch(key):
            raise ValueError(f"not a piece key: {key!r}")
        return f"{self._prefix}pieces/{key}"

    def _call(self, what: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except (ClientError, BotoCoreError, OSError) as exc:
            raise _translate(what, exc) from None

    def _upload(self, path: Path, key: str) -> None:
        self._call("upload", self._client.upload_file, Filename=str(path), Bucket=self.bucket,
                   Key=key, Config=self._transfer)

    def put_bytes(self, data: bytes) -> str:
        spool = self.spool()
        try:
            spool.write(data)
            spool.close()
            if not self.has(spool.sha256):
                self._upload(spool.path, self._blob(spool.sha256))
        finally:
            spool.discard()
        return spool.sha256

    def add_piece(self, spool: Spool) -> str:
        key = f"piece-{secrets.token_hex(12)}"
        try:
            spool.close()
            self._upload(spool.path, self._piece(key))
        finally:
            spool.discard()
        return key

    def _stream(self, key: str) -> Iterator[bytes]:
        body = self._call("read", self._client.get_object, Bucket=self.bucket, Key=key)["Body"]
        try:
            while block := body.read(BLOCK):
                yield block
        finally:
            body.close()

    def read_piece(self, key: str) -> Iterator[bytes]:
        return self._stream(self._piece(key))

    def delete_piece(self, key: str) -> None:
        self._call("delete", self._client.delete_object, Bucket=self.bucket,
                   Key=self._piece(key))

    def promote(self, pieces: Sequence[str], sha256: str) -> None:
        if self.has(sha256):
            return
        target = self._blob(sha256)
        if len(pieces) == 1:  # a copy inside the store, no bytes through the server
            self._call("copy", self._client.copy_object, Bucket=self.bucket, Key=target,
                       CopySource={"Bucket": self.bucket, "Key": self._piece(pieces[0])})
            return
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="promote-") as joined:
            for key in pieces:
                for block in self.read_piece(key):
                    joined.write(block)
            joined.flush()
            self._upload(Path(joined.name), target)

    def has(self, sha256: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._blob(sha256))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return False
            raise _translate("lookup", exc) from None
        except BotoCoreError as exc:
            raise _translate("lookup", exc) from None
        return True

    def read(self, sha256: str) -> Iterator[bytes]:
        return self._stream(self._blob(sha256))

    def delete(self, sha256: str) -> None:
        self._call("delete", self._client.delete_object, Bucket=self.bucket,
                   Key=self._blob(sha256))


def _translate(what: str, exc: Exception) -> StorageError:
    """A storage error naming the fix; a full store (quota, 507) is StorageFullError."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if error.get("Code") in _FULL_CODES or status == 507:
            return StorageFullError(f"the S3 store refuses more data ({error.get('Code')}: "
                                    f"{error.get('Message')}). Fix: raise the bucket's quota "
                                    "or add capacity; cameras keep everything and try again")
    return StorageError(f"S3 {what} failed: {exc}")
