"""Free text as the service stores it: bounded, and never holding the individual number.

Every stored free-text field of a request schema is typed :data:`FreeText` (or a type built on
:data:`Guard`, like ``Name`` and ``Reason`` in ``api.staff.validation``), so a new field gets
the guard by its type; ``tests/admin/test_free_text.py`` walks every request schema and fails
on a ``str`` that has neither the guard nor a reason to go without. Headers and raw bodies that
are stored (``X-Actor``, CSV imports, device event ``data``) call :func:`refuse_individual_number`
or :func:`refuse_in_json` themselves. The rule itself is ``gate.individual_number``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from gate.individual_number import holds_individual_number

__all__ = ["INDIVIDUAL_NUMBER_MESSAGE", "FreeText", "Guard", "GuardJson", "refuse_in_json",
           "refuse_individual_number"]

INDIVIDUAL_NUMBER_MESSAGE = (
    "looks like a 12-digit individual number (個人番号); the individual number must never be "
    "stored in mynagate — remove it (separate numbers side by side with words or 、)")


def refuse_individual_number(value: str) -> str:
    """``value`` unchanged, or ValueError when it holds 12 digits however written."""
    if holds_individual_number(value):
        raise ValueError(INDIVIDUAL_NUMBER_MESSAGE)
    return value


def refuse_in_json(value: Any) -> Any:
    """``value`` unchanged, or ValueError when any string in it (keys included) holds 12
    digits; for free-form JSON such as device event ``data``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            refuse_individual_number(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


# After the type's own length check, so the guard never scans an unbounded string.
Guard = AfterValidator(refuse_individual_number)
GuardJson = AfterValidator(refuse_in_json)


class FreeText:
    """``FreeText[100]``: a string of at most 100 characters that never holds the individual
    number. A field adds ``Field(min_length=1)`` when it must not be empty."""

    def __class_getitem__(cls, max_length: int) -> Any:
        return Annotated[str, StringConstraints(max_length=max_length), Guard]
