"""/docs and /redoc work on a network with no internet (LGWAN): every script, style sheet and
icon the pages reference is served by the app itself, and the wheel ships those files."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.docs import STATIC_DIR

ROOT = Path(__file__).resolve().parent.parent
URL_ATTRS = {"src", "href", "spec-url"}
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        self.urls.extend(v for k, v in attrs if k in URL_ATTRS and v)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _refs(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(("page", "expected"), [
    ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}),
    ("/redoc", {"redoc.standalone.js", "favicon-32x32.png"}),
])
def test_docs_page_and_every_asset_come_from_the_app(client, page: str,
                                                     expected: set[str]) -> None:
    r = client.get(page)
    assert r.status_code == 200
    refs = _refs(r.text)
    assert {Path(urlsplit(u).path).name for u in refs.urls} >= expected
    for url in refs.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} references another host: {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    # Inline scripts name only this app too (no CDN, no validator.swagger.io).
    for script in refs.scripts:
        assert not ABSOLUTE_URL.search(script.replace("window.location.origin", "")), script
    assert "fonts.googleapis.com" not in r.text


def test_swagger_ui_loads_this_apps_schema_and_redirect(client) -> None:
    html = client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_assets_carry_their_licences_and_are_package_data() -> None:
    files = {p.relative_to(STATIC_DIR.parent).as_posix() for p in STATIC_DIR.rglob("*")
             if p.is_file()}
    for licence in ("static/swagger-ui/LICENSE", "static/swagger-ui/NOTICE",
                    "static/redoc/LICENSE", "static/VENDORED.md"):
        assert licence in files
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]
    # setuptools globs these patterns relative to the package directory.
    patterns = package_data.get("api", []) + package_data.get("*", [])
    shipped = {p.relative_to(STATIC_DIR.parent).as_posix()
               for pattern in patterns for p in STATIC_DIR.parent.glob(pattern) if p.is_file()}
    assert files <= shipped, sorted(files - shipped)
