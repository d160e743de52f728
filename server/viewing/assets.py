"""The built player (server/web/player/dist, made by `make player` from the pinned npm
packages). Only the two bundles are served; a missing build is a clear error, not a
page that silently never plays."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi.responses import PlainTextResponse, Response

__all__ = ["DIST", "asset"]

DIST: Final = Path(__file__).resolve().parent.parent / "web" / "player" / "dist"
_BUNDLES: Final = frozenset({"player.js", "worker.js"})


def asset(name: str) -> Response:
    if name not in _BUNDLES:
        return PlainTextResponse(f"no player file {name[:80]!r}", status_code=404)
    try:
        code = (DIST / name).read_bytes()
    except FileNotFoundError:
        return PlainTextResponse(
            f"the player is not built ({DIST / name} is missing). Fix: run `make player` "
            "in the source tree (npm ci + esbuild)", status_code=503)
    return Response(code, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
