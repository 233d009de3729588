"""The gettext catalogs of the texts that leave the service: the reader display (decision
reasons, clock-in greetings) and the emails (PIN, cancellation).

This package is the neutral home both sides load: the reader agent (which never imports
``api`` and does not install Babel) reads the compiled ``.mo`` files with the standard
library's ``gettext``; the service's mail templates do the same, and the console merges this
catalog into its own Babel translations (``api/console/rendering.py``), so one msgid reads the
same on the screen, the door and in the mail. The msgids are English and marked where they
are written (``gate/messages.py``, ``gate/clock.py``, ``api/mail/templates.py``); ``ja``
translates every one and is the default; ``en`` gives every one its English text. A booking
keeps the ``Language`` its emails are written in. Catalog upkeep: README.md.

Only file reads here, no imports of our other packages (tests/test_import_direction.py)."""

from __future__ import annotations

import gettext as _gettext
from enum import StrEnum
from functools import cache
from pathlib import Path

__all__ = ["DEFAULT_LANGUAGE", "DOMAIN", "LANGUAGES", "LOCALE_DIR", "Language", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "mynagate"


class Language(StrEnum):
    """A language the catalogs are written in (the console's, the door's, a booker's mail)."""

    JA = "ja"
    EN = "en"


LANGUAGES = tuple(Language)
DEFAULT_LANGUAGE = Language.JA


@cache
def translations(lang: str = DEFAULT_LANGUAGE) -> _gettext.GNUTranslations:
    """The compiled catalog of ``lang``; an unknown language gets the Japanese one. A missing
    catalog file raises (a reader must not silently fall back to the English msgids)."""
    chosen = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    with open(LOCALE_DIR / chosen / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as f:
        return _gettext.GNUTranslations(f)
