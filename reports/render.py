"""Lay letters out from their stored content: one Jinja2 template, as an HTML e-mail and as A4 PDF (WeasyPrint).

No network: the template holds its CSS and its chart (inline SVG); WeasyPrint is given no base
URL and a fetcher that refuses every URL, so nothing in a letter can make it load anything.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from analytics.notify.messages import EmailContent
from reports.chart import HEIGHT_PX, WIDTH_PX

# Letters rendered per WeasyPrint document before the print file's batches are joined.
PRINT_BATCH_LETTERS = 50


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True),
                              undefined=StrictUndefined)
    environment.globals.update(width=WIDTH_PX, height=HEIGHT_PX)
    return environment


def render_html(contents: Sequence[dict[str, Any]], medium: str) -> str:
    """The HTML of one or more letters for a medium: "email" or "print" (A4, one letter per page break)."""
    if medium not in ("email", "print"):
        raise ValueError(f"unknown medium {medium!r} (expected email or print)")
    return _environment().get_template("letter.html.j2").render(letters=list(contents), medium=medium)


def plain_text(content: dict[str, Any]) -> str:
    """The letter as plain text: the e-mail's text part, the same sentences as its HTML."""
    lines = [content["subject"], "", content["greeting"], content["intro"], "", content["month_use"]["title"]]
    lines += [f"- {line['text']}" + (f" ({line['note']})" if line["note"] else "") for line in content["month_use"]["lines"]]
    lines += [content["month_use"]["total"] or content["month_use"]["none"], "", content["last_year"]["title"]]
    for item in content["last_year"]["items"]:
        lines += [item["verdict"], *item["details"]]
    if content["similar"]["items"]:
        lines += ["", content["similar"]["title"]]
        for item in content["similar"]["items"]:
            lines += [text for text in (item["verdict"], item["line"], *item["details"]) if text]
    suggestion = content["suggestion"]
    lines += ["", suggestion["title"]]
    lines += [suggestion["none"]] if suggestion["none"] else [
        text for text in (suggestion["text"], suggestion["value"], suggestion["evidence"], suggestion["source"]) if text]
    if suggestion.get("note"):
        lines.append(suggestion["note"])
    lines += ["", content["alerts"]["title"], *(f"- {s}" for s in content["alerts"]["items"])]
    if content["alerts"]["none"]:
        lines.append(content["alerts"]["none"])
    lines += ["", content["progress"]["title"], *content["progress"]["lines"]]
    if content["progress"]["private"]:
        lines.append(content["progress"]["private"])
    lines += ["", content["closing"], "", content["signature"], content["sender"], "", content["footer"]]
    return "\n".join(lines) + "\n"


def email_content(content: dict[str, Any]) -> EmailContent:
    """Subject, text part and HTML part of a letter sent by e-mail."""
    return EmailContent(subject=content["subject"], text=plain_text(content), html=render_html([content], "email"))


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"letters load nothing from outside (asked for {url})")


def render_pdf(contents: Sequence[dict[str, Any]], path: Path | None = None, *,
               batch_letters: int = PRINT_BATCH_LETTERS) -> bytes:
    """The letters as one A4 PDF (each letter starts a page); written to ``path`` when given.

    Rendered ``batch_letters`` at a time and joined: WeasyPrint keeps a whole document's layout
    in memory, and its time per page grew with the document (1.4× per letter at 300 letters).
    """
    from pypdf import PdfWriter
    from weasyprint import HTML  # imported here: loading Pango takes a while and only printing needs it

    writer = PdfWriter()
    for first in range(0, len(contents), batch_letters):
        batch = HTML(string=render_html(contents[first:first + batch_letters], "print"), url_fetcher=_no_fetch)
        pdf = batch.write_pdf()
        assert pdf is not None
        writer.append(io.BytesIO(pdf))
    output = io.BytesIO()
    writer.write(output)
    data = output.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data
