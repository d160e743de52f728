"""Refusals as the protocol spells them: `{"error": code, "message": what and the fix}`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from bodycam.server.storage.blobs import StorageError, StorageFullError

__all__ = ["ApiError", "api_error_response", "storage_refusal"]


class ApiError(Exception):
    """A refusal with its HTTP status, a stable code the camera acts on, and details."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


async def api_error_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


def storage_refusal(exc: StorageError) -> ApiError:
    """507 when the store is full (the camera keeps everything and alarms), else 503."""
    if isinstance(exc, StorageFullError):
        return ApiError(507, "storage_full", str(exc))
    return ApiError(503, "storage_unavailable", f"{exc}; try again later")
