"""The pages' words: every one extracted from the templates is in the French catalog, and the
compiled catalog shipped in the bundle is the one its source says."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from chalicelib.rendering import DOMAIN, LOCALE_DIR, TEMPLATES, render

PROJECT = Path(__file__).resolve().parents[2]
PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po"


def extracted() -> set[str]:
    found = extract_from_dir(
        str(TEMPLATES),
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message for _, _, message, _, _ in found}


def test_every_word_of_the_templates_is_translated_and_none_is_left_over():
    with PO.open("rb") as source:
        catalog = read_po(source)
    translated = {m.id: m.string for m in catalog if m.id}
    assert extracted() == set(translated)
    assert all(translated.values()), [k for k, v in translated.items() if not v]
    assert not any(m.fuzzy for m in catalog if m.id)


def test_the_compiled_catalog_says_what_its_source_says():
    with PO.open("rb") as source:
        catalog = read_po(source)
    compiled = gettext.translation(DOMAIN, LOCALE_DIR, languages=["fr"])
    for message in catalog:
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id


def test_the_template_template_is_up_to_date():
    # `pybabel extract` as the README says; a change of words must update the .pot too.
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as source:
        assert {m.id for m in read_po(source) if m.id} == extracted()


def test_escaping_is_on_in_every_language():
    for lang in ("en", "fr"):
        html = render(
            "failure.html",
            lang,
            page_id="x",
            kind="failed",
            style="",
            script="",
            failure="error",
            return_url='https://platform.example/?a=1&b="<2>"',
        )
        assert 'href="https://platform.example/?a=1&amp;b=&#34;&lt;2&gt;&#34;"' in html


def test_the_webhook_path_never_loads_the_template_engine():
    """A cold start of the API Lambda that serves a webhook pays nothing for the pages."""
    probe = """
import json, sys
from chalice.test import Client
import app
with Client(app.app) as client:
    headers = {"Stripe-Signature": "t=1,v1=00"}
    client.http.post("/webhooks/stripe/acct_1", body=b"{}", headers=headers)
pages = ("jinja2", "markupsafe", "babel")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in pages)))
"""
    env = {"STAGE": "local", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    # Nothing answers on this port: the account lookup fails fast, as far as the webhook goes.
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_MAX_ATTEMPTS="1")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    loaded = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0 and "jinja2" not in loaded.stderr
