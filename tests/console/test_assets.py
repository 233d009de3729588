"""The console's vendored htmx matches VENDORED.md, and the catalogs are complete and compiled."""

from __future__ import annotations

import hashlib
import re

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from api.console.rendering import HERE, LANGUAGES, LOCALE_DIR

VENDOR = HERE / "static" / "vendor"


def test_vendored_files_match_their_checksums() -> None:
    listed = dict(re.findall(r"^\| (\S+) \| ([0-9a-f]{64}) \|$",
                             (VENDOR / "VENDORED.md").read_text(), re.M))
    assert set(listed) == {"htmx.min.js", "htmx.LICENSE"}
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_templates_load_nothing_from_elsewhere() -> None:
    for page in (HERE / "templates").glob("*.html"):
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.read_text()), page.name


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                     "lstrip_blocks": "true"}}
    return {m[2] if isinstance(m[2], str) else m[2][0]
            for m in extract_from_dir(str(HERE), method_map, options,
                                      keywords={"_": None, "gettext": None, "N_": None})}


def test_every_message_is_in_the_japanese_catalog_and_compiled() -> None:
    messages = _extracted()
    assert "Holiday entry record" in messages
    for lang in LANGUAGES:
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            po = read_po(f)
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
            mo = read_mo(f)
        assert messages <= {m.id for m in po if m.id}, f"{lang}: run pybabel update"
        assert {m.id: m.string for m in po if m.id and m.string} == \
            {m.id: m.string for m in mo if m.id}, \
            f"{lang}: the .mo is stale; run pybabel compile"
        if lang == "ja":
            assert all(po[msg].string for msg in messages), "untranslated ja messages"
