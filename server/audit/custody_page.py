"""The chain-of-custody report as a printable page (no script; prints on A4 as it is).

A page of its own rather than one of the web interface's layouts: it is printed and
filed, so it carries everything it needs (styles included) and nothing to click.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bodycam.server.audit.custody import CustodyReport

__all__ = ["render_custody_html"]

_TEMPLATES: Final = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                                autoescape=select_autoescape(["html"]))


def render_custody_html(report: CustodyReport) -> str:
    """The report as a whole HTML document (every value escaped)."""
    return _TEMPLATES.get_template("custody.html").render(r=report)
