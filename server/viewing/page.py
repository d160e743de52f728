"""The player page: the reason form, the picture with the viewer's name and the time
over it, and the script that does the rest in the browser. Its Content-Security-Policy
is the other pages' plus what playing needs: media from the MediaSource's blob: URL and
a worker script from this server."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError
from bodycam.server.custody.target import UnknownRecordingError, recording_target
from bodycam.server.recordings.models import Recording
from bodycam.server.recordings.service import files_of
from bodycam.server.web.frame import Visitor
from bodycam.server.web.navigation import menu
from bodycam.server.web.pages import HEADERS

__all__ = ["player_page"]

_HERE: Final = Path(__file__).resolve().parent
_ENV: Final = Environment(
    loader=ChoiceLoader([FileSystemLoader(_HERE.parent / "web" / "player"),
                         FileSystemLoader(_HERE.parent / "web" / "templates")]),
    autoescape=select_autoescape(["html"]))
_CSP: Final = ("default-src 'self'; media-src 'self' blob:; worker-src 'self'; "
               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def player_page(person: Visitor, recording_id: str) -> HTMLResponse:
    values: dict[str, object] = {}
    try:
        with person.work("player.open") as work:
            work.authorise(Permission.VIEW, recording_target(work.session, recording_id))
            recording = work.session.get_one(Recording, recording_id)
            values = {"recording": recording,
                      "files": [f for f in files_of(work.session, recording_id)
                                if f.name.endswith(".age")]}
    except UnknownRecordingError as exc:
        return person.page("missing.html", 404, what=str(exc), back="/recordings")
    except AccessError as exc:
        return person.refused(exc, back=f"/recordings/{recording_id}")
    html = _ENV.get_template("player.html").render(
        who=person.who, name=person.name, nav=menu(person.actor.permissions, person.path),
        **values)
    return HTMLResponse(html, status_code=200,
                        headers={**HEADERS, "Content-Security-Policy": _CSP})
