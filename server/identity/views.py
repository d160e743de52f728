"""GET /api/v1/offload/time: the server's signed time, the camera's authenticated clock.

Unsigned on purpose: a camera whose clock is unset cannot make a request signature the
server would accept (`created` must be within 300 s), so it asks for the time first. The
nonce it sends comes back signed, so an old answer cannot be replayed to it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request

from bodycam.firmware.evidence.receipts import TIME_FORMAT, sign_statement
from bodycam.firmware.evidence.signed_log import utc_iso
from bodycam.server.devices.auth import context_of
from bodycam.server.errors import ApiError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/offload")
_NONCE: Final = re.compile(r"[0-9a-f]{32}")


@router.get("/time")
async def signed_time(request: Request, nonce: str = "") -> dict[str, Any]:
    if not _NONCE.fullmatch(nonce):
        raise ApiError(400, "bad_nonce", "give ?nonce= with 32 lowercase hex digits (fresh "
                       "for every request)")
    context = context_of(request)
    moment = datetime.fromtimestamp(context.clock(), UTC)
    return sign_statement(context.signing_key, TIME_FORMAT,
                          {"nonce": nonce, "time": utc_iso(moment)})
