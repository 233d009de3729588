"""Text that reaches a mail header: one line, no control characters.

A CR or LF in a header value would either inject headers or make ``email`` refuse the whole
message, so such text is refused where it is entered (``SingleLine``), and text stored before
that rule is collapsed to one line when a message is rendered (``header_text``). Non-ASCII
header values are RFC 2047-encoded by ``email.policy.default`` when the message is serialised.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators (str.splitlines()
# breaks on all of them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_MESSAGE = "must be one line without control characters (改行や制御文字は使えません)"


def refuse_control(value: str) -> str:
    """Validator: the value unchanged, or ValueError when it holds a line break or control."""
    if _CONTROL.search(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def header_text(value: str) -> str:
    """The value on one line: every run of control characters becomes one space."""
    return " ".join(_CONTROL.sub(" ", value).split())


SingleLine = AfterValidator(refuse_control)
SingleLineStr = Annotated[str, SingleLine]
