"""The few HTML pages an admin sees in a browser: escaped string templates, no outside resources."""

from __future__ import annotations

import base64
import hashlib
from html import escape
from string import Template

from chalice import Response

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1f2328}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}"
    "code{background:#f1f3f5;padding:.1rem .3rem;border-radius:3px;word-break:break-all}"
    ".ok h1{color:#0b6b2e}.failed h1{color:#a4161a}li{margin:.2rem 0}"
    "button{font:inherit;padding:.5rem 1.2rem;border:0;border-radius:4px;background:#635bff;"
    "color:#fff;cursor:pointer}dt{font-weight:600}dd{margin:0 0 .5rem 0}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def content_security_policy(form_action: str = "'none'") -> str:
    """Only the inline style above may apply; no script, image, font or frame, and a form only
    where a page has one (form-action also covers where its answer redirects to)."""
    return (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
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

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<main id="$page_id" class="$kind">
<h1>$title</h1>
$body
</main>
</body>
</html>
"""
)


class Html(str):
    """Markup that is already safe; anything else put into a page is escaped."""


def html(text: str | Html) -> Html:
    return text if isinstance(text, Html) else Html(escape(text))


def join(*parts: str | Html) -> Html:
    return Html("".join(html(part) for part in parts))


def tag(element: str, content: str | Html = "", **attributes: str) -> Html:
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for key, value in attributes.items()
    )
    return Html(f"<{element}{rendered}>{html(content)}</{element}>")


def void(element: str, **attributes: str) -> Html:
    """An element without content (input)."""
    return Html(tag(element, **attributes).removesuffix(f"</{element}>"))


def page(
    status: int,
    lang: str,
    page_id: str,
    kind: str,
    title: str,
    body: Html,
    headers: dict[str, str] | None = None,
) -> Response:
    text = _PAGE.substitute(
        lang=escape(lang),
        title=escape(title),
        style=_STYLE,
        page_id=escape(page_id),
        kind=escape(kind),
        body=body,
    )
    return Response(body=text, status_code=status, headers={**HEADERS, **(headers or {})})
