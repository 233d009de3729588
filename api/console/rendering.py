"""Templates, language and time formatting of the console.

Catalogs: msgids are English (code and templates stay English, as the guide asks); the ``ja``
catalog translates every one of them and is the default; ``en`` is the msgids themselves.
``locale/messages.pot`` is extracted from the templates and this package by pybabel (see
locale/README.md); the compiled ``.mo`` files are committed and a test checks they match their
``.po``. The language comes from ``?lang=`` or the ``mynagate_lang`` cookie."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

import mynagate_i18n as i18n
from gate.business_day import JST
from gate.messages import reason_text
from gate.policy import Reason

from . import labels

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
LANGUAGES = i18n.LANGUAGES
DEFAULT_LANGUAGE = i18n.DEFAULT_LANGUAGE
LANG_COOKIE = "mynagate_lang"


@cache
def translations(lang: str) -> NullTranslations:
    """The console's catalog over the reader-display and email catalog of ``mynagate_i18n``:
    one gettext for the screen, the door and the mail. Where both translate a msgid the
    console's own entry wins (an alarm label is shorter than the door's sentence)."""
    shared = Translations.load(str(i18n.LOCALE_DIR), [lang], domain=i18n.DOMAIN)
    shared.merge(Translations.load(str(LOCALE_DIR), [lang], domain="messages"))  # type: ignore[attr-defined]
    return shared


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE, "")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored UTC moment as JST text (the console never shows UTC)."""
    return "" if value is None else value.astimezone(JST).strftime(fmt)


def reason_label(code: str, lang: str) -> str:
    """An event's stored reason code as the door says it (the shared catalog); a code that is
    not a ``gate.policy.Reason`` (an older agent's) is shown as it is."""
    try:
        return reason_text(Reason(code), translations(lang).gettext)
    except ValueError:
        return code


def hours(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["jst"] = jst
    env.filters["hours"] = hours
    env.filters["reason"] = lambda code: reason_label(code, lang)
    env.globals["labels"] = labels
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    page = environment(lang).get_template(name).render(request=request, lang=lang, **context)
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True,
                            path="/console")
    return response


def gettext(request: Request, message: str) -> str:
    """A message outside a template (CSV headers) in the request's language."""
    return translations(language(request)).gettext(message)
