"""/api/v1/recordings: search (recording.search), one recording's page (its files,
state, wearers, cases, holds), and fetching its files byte for byte as the camera wrote
them (recording.export; ciphertext only). Every read of evidence is on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.routes.common import RecordingId
from bodycam.server.api.work import ERRORS, ErrorBody, perform
from bodycam.server.custody.holds import HoldView, active_holds
from bodycam.server.custody.models import Case, CaseRecording
from bodycam.server.custody.search import (
    MAX_PAGE_SIZE,
    Page,
    RecordingRow,
    SearchFilters,
    search_recordings,
)
from bodycam.server.custody.target import UnknownRecordingError, recording_target
from bodycam.server.custody.wearers import resolve_wearers
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.report import summary_of
from bodycam.server.recordings.service import files_of
from bodycam.server.retention.queries import RetentionView, retention_view
from bodycam.server.storage.blobs import BlobStore

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"], responses=ERRORS)


class SearchOut(BaseModel):
    rows: list[RecordingRow]
    total: int
    page: int
    size: int
    pages: int


class FileOut(BaseModel):
    name: str
    size: int
    sha256: str
    stored: int = Field(description="bytes held (all of them once complete)")
    complete: bool
    damaged: str | None


class RecordingOut(BaseModel):
    id: str
    device: str
    start: str | None
    end: str | None
    state: str = Field(description="complete, damaged, receiving or incomplete")
    segments_stored: int
    segments_expected: int
    bytes_stored: int
    bytes_expected: int
    receipt: bool
    fork: str | None
    manifest_sha256: str
    files: list[FileOut]
    wearers: list[str]
    wearers_complete: bool
    cases: list[str]
    holds: list[HoldView]
    retention: RetentionView | None = Field(description="its category, state and expiry")


class SearchQuery(BaseModel):
    """Every filter optional; a recording matches when it meets all given."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(default=None, max_length=200)
    wearer: str | None = Field(default=None, description="a username", max_length=200)
    since: str | None = Field(default=None, description="ISO 8601 with a zone: recordings "
                              "running at or after it", max_length=200)
    until: str | None = Field(default=None, description="ISO 8601 with a zone: recordings "
                              "started at or before it", max_length=200)
    state: str | None = Field(default=None, description="complete, damaged, receiving or "
                              "incomplete", max_length=200)
    case: str | None = Field(default=None, description="a case reference", max_length=200)
    on_hold: bool | None = None
    category: str | None = Field(default=None, description="a retention category",
                                 max_length=64)
    page: int = Field(default=1, ge=1, le=1_000_000)
    size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@router.get("")
def search(query: Annotated[SearchQuery, Query()], request: Request, caller: CallerDep
           ) -> SearchOut:
    """Recordings matching every filter given, newest first, a page at a time."""
    filters = SearchFilters(device=query.device, wearer=query.wearer, since=query.since,
                            until=query.until, state=query.state, case=query.case,
                            on_hold=query.on_hold, category=query.category)

    def job(work: Work) -> SearchOut:
        found = search_recordings(work, filters, Page(query.page, query.size))
        return SearchOut(rows=found.rows,
                         total=found.total, page=query.page, size=query.size,
                         pages=found.pages)
    return perform(request, caller, "recording.search", job)


def _detail(work: Work, recording_id: str) -> RecordingOut:
    target = recording_target(work.session, recording_id)
    work.authorise(Permission.SEARCH, target)
    session = work.session
    summary = summary_of(session, recording_id, work.now)
    if summary is None:
        raise UnknownRecordingError(recording_id)
    wearers = resolve_wearers(session, summary.device, summary.start, summary.end)
    names = sorted(session.scalars(select(User.username).where(
        User.id.in_(wearers.user_ids)))) if wearers.user_ids else []
    cases = list(session.scalars(select(Case.reference).join(
        CaseRecording, CaseRecording.case_id == Case.id).where(
            CaseRecording.recording_id == recording_id).order_by(Case.reference)))
    files = [FileOut(name=f.name, size=f.size, sha256=f.sha256, stored=f.stored,
                     complete=f.complete, damaged=f.damaged)
             for f in files_of(session, recording_id)]
    holds = active_holds(session, recording_id)
    manifest = session.get_one(Recording, recording_id).manifest_sha256
    retained = retention_view(session, recording_id)
    work.record("recording_read", recording=recording_id)
    return RecordingOut(
        id=summary.id, device=summary.device, start=summary.start, end=summary.end,
        state=summary.state, segments_stored=summary.segments_stored,
        segments_expected=summary.segments_expected, bytes_stored=summary.bytes_stored,
        bytes_expected=summary.bytes_expected, receipt=summary.receipt, fork=summary.fork,
        manifest_sha256=manifest, files=files, wearers=names,
        wearers_complete=wearers.complete, cases=cases, holds=holds,
        retention=retained)


@router.get("/{recording_id}")
def one(recording_id: RecordingId, request: Request, caller: CallerDep) -> RecordingOut:
    """A recording's page: files with hashes, state and damage, wearers, cases, holds."""
    return perform(request, caller, "recording.read", lambda work: _detail(work, recording_id))


def _blob(work: Work, blobs: BlobStore, recording_id: str, name: str
          ) -> tuple[str, int | None]:
    """(sha256, size) of the manifest or a stored file, authorised and on record."""
    work.authorise(Permission.EXPORT, recording_target(work.session, recording_id))
    if name == MANIFEST_NAME:
        sha256, size = work.session.get_one(Recording, recording_id).manifest_sha256, None
    else:
        found = [f for f in files_of(work.session, recording_id) if f.name == name]
        if not found:
            raise ApiError(404, "no_file", f"recording {recording_id}'s manifest names no "
                           f"file {name[:100]!r}; GET /api/v1/recordings/{recording_id} "
                           "lists them")
        if not found[0].complete:
            raise ApiError(409, "not_stored", f"{name} has not (all) arrived yet: the "
                           "camera has not finished sending it")
        sha256, size = found[0].sha256, found[0].size
    if not blobs.has(sha256):
        raise ApiError(503, "blob_missing", f"{name} of recording {recording_id} is on "
                       "record but not in the blob store (storage damage): restore the "
                       "store from its backup")
    work.record("recording_fetched", recording=recording_id, file=name, sha256=sha256,
                via="api")
    return sha256, size


def _receipt(work: Work, recording_id: str) -> bytes:
    """The receipt this server signed for the recording, as the camera keeps it."""
    work.authorise(Permission.EXPORT, recording_target(work.session, recording_id))
    text = work.session.get_one(Recording, recording_id).receipt
    if text is None:
        raise ApiError(404, "no_receipt", f"recording {recording_id} has no receipt yet: "
                       "the camera has not finished its offload")
    work.record("recording_fetched", recording=recording_id, file=RECEIPT_NAME, via="api")
    return text.encode("utf-8")


@router.get("/{recording_id}/files/{name}", response_class=StreamingResponse, responses={
    503: {"model": ErrorBody, "description": "the blob store lacks the file (damage)"},
    200: {"content": {"application/octet-stream": {}},
          "description": "the file's bytes exactly as the camera wrote them (age "
          "ciphertext, or the signed manifest for manifest.jsonl); X-Content-SHA256 is "
          "the hash the manifest signs: check it"}})
def fetch(recording_id: RecordingId,
          name: Annotated[str, Path(min_length=1, max_length=255)],
          request: Request, caller: CallerDep) -> Response:
    """One file of a recording (`manifest.jsonl` for its signed manifest, `receipt.json`
    for the receipt this server signed), byte for byte: with the others, `bodycam-evidence
    verify` checks it unchanged."""
    if name == RECEIPT_NAME:
        data = perform(request, caller, "recording.fetch",
                       lambda work: _receipt(work, recording_id))
        return Response(data, media_type="application/octet-stream", headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{RECEIPT_NAME}"'})
    blobs = context_of(request).blobs
    sha256, size = perform(request, caller, "recording.fetch",
                           lambda work: _blob(work, blobs, recording_id, name))

    def stream() -> Iterator[bytes]:
        yield from blobs.read(sha256)
    headers = {"X-Content-SHA256": sha256, "Cache-Control": "no-store",
               "Content-Disposition": f'attachment; filename="{name}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(stream(), media_type="application/octet-stream",
                             headers=headers)
