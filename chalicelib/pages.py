"""The HTML pages an admin sees in a browser: templates in chalicelib/templates, rendered with
no outside resources, and the headers every page carries."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from chalice import Response

_TEMPLATES = Path(__file__).resolve().parent / "templates"
# Static files, read here (not through Jinja2) so that their hashes need no template engine.
STYLE = (_TEMPLATES / "style.css").read_text(encoding="utf-8")
COPY_SCRIPT = (_TEMPLATES / "copy.js").read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


_STYLE_HASH = _sha256(STYLE)
_SCRIPT_HASH = _sha256(COPY_SCRIPT)


def content_security_policy(form_action: str = "'none'", script: bool = False) -> str:
    """Only the inline style (and, where a page has one, its copy script) may apply; no image,
    font or frame, and a form only where a page has one (form-action also covers where its
    answer redirects to)."""
    script_src = f"script-src 'sha256-{_SCRIPT_HASH}'; " if script else ""
    return (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; {script_src}base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


CONTENT_SECURITY_POLICY = content_security_policy()
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    # The callback URL carries an authorization code: never pass it on in a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def page(
    status: int,
    template: str,
    lang: str,
    page_id: str,
    kind: str,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page rendered from `template` in language `lang` (its words from the catalogs)."""
    from chalicelib.rendering import render  # Jinja2 only when a page is asked for

    text = render(
        template,
        lang,
        page_id=page_id,
        kind=kind,
        style=STYLE,
        script=COPY_SCRIPT,
        **context,
    )
    return Response(body=text, status_code=status, headers={**HEADERS, **(headers or {})})
