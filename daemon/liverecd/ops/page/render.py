"""Rendering the model: Jinja2 HTML (autoescaped) and JSON, plus the headers every page gets.

The stylesheet is inline (no external resource, nothing to fetch) and allowed by its SHA-256 in
the Content-Security-Policy, so the policy can say `default-src 'none'`: no script runs, nothing
is loaded, whatever text a schedule file or an API message smuggles into the page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup

from liverecd.ops.page import model as m

if TYPE_CHECKING:
    import jinja2

REFRESH_SECONDS = 5
_TEMPLATES = files("liverecd.ops.page") / "templates"
CSS = (_TEMPLATES / "page.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def countdown(seconds: float) -> str:
    """`in 1h 02m`, `in 12s`; `now` when due."""
    s = int(seconds)
    if s <= 0:
        return "now"
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    mi, sec = divmod(rest, 60)
    if d:
        return f"in {d}d {h:02d}h"
    if h:
        return f"in {h}h {mi:02d}m"
    return f"in {mi}m {sec:02d}s" if mi else f"in {sec}s"


def _local(when: datetime, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _utc(when: datetime | None) -> str:
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M:%SZ")


def _grid(results: tuple[m.WindowResult, ...]) -> list[tuple[str, list[m.WindowResult]]]:
    """Results by stream (streams in order of their newest result), each row oldest first."""
    rows: dict[str, list[m.WindowResult]] = {}
    for r in results:
        rows.setdefault(r.stream, []).append(r)
    return [(s, sorted(rs, key=lambda r: r.start)) for s, rs in rows.items()]


def _env() -> jinja2.Environment:
    import jinja2  # on the first view: a daemon without the page never needs it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,  # every page is HTML: escape everything not marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local=_local, utc=_utc, countdown=countdown)
    env.globals.update(grid=_grid, css=Markup(CSS), refresh=REFRESH_SECONDS)  # noqa: S704 - ours
    return env


@functools.cache
def _page() -> jinja2.Template:
    # Compiled on the first view, not at import: every `liverecd` process imports this module,
    # and compiling the template is most of its 60 ms.
    return _env().get_template("page.html.j2")


def html(model: m.PageModel) -> str:
    """The status page."""

    def link(page: int) -> str:
        params = {"stream": model.query.stream} if model.query.stream else {}
        return "?" + urlencode({**params, "page": page})

    return _page().render(p=model, link=link)


def as_json(model: m.PageModel) -> str:
    """`GET /api/status`."""
    return json.dumps(m.to_json(model), ensure_ascii=False, separators=(",", ":"))
