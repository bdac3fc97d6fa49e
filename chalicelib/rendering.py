"""Jinja2 (autoescaping on) over chalicelib/templates, with the words of the admin's language
from the gettext catalogs in chalicelib/locale. Imported by the page routes only: the
webhook's cold start never loads Jinja2."""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
SOURCE_LOCALE = "en"  # the templates' own words; other languages come from catalogs


@cache
def environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = when
    return env


def translations(lang: str) -> gettext.NullTranslations:
    if lang == SOURCE_LOCALE:
        return gettext.NullTranslations()
    # No fallback: a missing catalog is a packaging error, not English in a French page.
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def when(value: str) -> str:
    """A stored ISO time as the admin reads it, in UTC."""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(template: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(template).render(lang=lang, **context)
