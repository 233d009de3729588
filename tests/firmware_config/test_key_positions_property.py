"""key_positions on generated TOML: every key and array element that tomllib sees is found, at
the line and column where the key is written, whatever the style (tables, arrays of tables,
inline tables, dotted keys, quoted keys, tricky strings and comments)."""

from __future__ import annotations

import json
import random
import re
import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_config.validate import key_positions

BARE = re.compile(r"^[A-Za-z0-9_-]+$")

keys = st.sampled_from(["a", "b", "name", "door_id", "x-y", "_1", "a.b", "with space",
                        "書庫", 'q"uote', "#", "]"])
strings = st.text(alphabet="ab #[]{}=,.\"'\\\n書", max_size=12)
scalars = st.one_of(st.integers(-5, 10**6), st.booleans(), strings,
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
values = st.recursive(
    scalars | st.lists(scalars, max_size=3),
    lambda children: st.dictionaries(keys, children, max_size=4)
    | st.lists(st.dictionaries(keys, children, max_size=3), min_size=1, max_size=3),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, max_size=6)


def k(key: str) -> str:
    return key if BARE.match(key) else json.dumps(key, ensure_ascii=False)


def scalar(v: Any, rnd: random.Random) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if ("\"" not in v and "\\" not in v and not v.endswith("\n") and rnd.random() < 0.3):
        return '"""\n' + v + '"""'
    return json.dumps(v, ensure_ascii=False)


def inline(v: Any, rnd: random.Random) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k(a)} = {inline(b, rnd)}" for a, b in v.items()) + " }"
    if isinstance(v, list):
        sep = ",\n  # comment ]\n  " if rnd.random() < 0.3 else ", "
        return "[" + sep.join(inline(x, rnd) for x in v) + "]"
    return scalar(v, rnd)


def is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def emit(doc: dict[str, Any], prefix: list[str], rnd: random.Random, out: list[str]) -> None:
    deferred: list[tuple[str, str, Any]] = []
    for key, v in doc.items():
        style = rnd.random()
        if isinstance(v, dict) and v and style < 0.4:
            deferred.append(("table", key, v))
        elif is_table_list(v) and style < 0.6:
            deferred.append(("aot", key, v))
        elif isinstance(v, dict) and v and style < 0.6 and all(
                not isinstance(x, dict | list) for x in v.values()):
            for a, b in v.items():  # dotted keys
                out.append(f"{k(key)} . {k(a)} = {inline(b, rnd)}  # dotted")
        else:
            out.append(f"{k(key)} = {inline(v, rnd)}")
    for kind, key, v in deferred:
        path = ".".join(k(p) for p in [*prefix, key])
        if kind == "table":
            out.append(f"\n[{path}]  # table")
            emit(v, [*prefix, key], rnd, out)
        else:
            for item in v:
                out.append(f"\n  [[ {path} ]]")
                emit(item, [*prefix, key], rnd, out)


def paths(v: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(v, dict):
        for a, b in v.items():
            found.append(loc + (a,))
            found += paths(b, loc + (a,))
    elif isinstance(v, list):
        for i, b in enumerate(v):
            found.append(loc + (i,))
            found += paths(b, loc + (i,))
    return found


@settings(max_examples=200, deadline=None, derandomize=True)
@given(documents, st.randoms(use_true_random=False))
def test_every_key_is_found_where_it_is_written(doc: dict[str, Any], rnd: random.Random):
    lines: list[str] = []
    emit(doc, [], rnd, lines)
    text = "# generated\n" + "\n".join(lines) + "\n"
    assert tomllib.loads(text) == doc  # the emitter writes what we meant
    pos = key_positions(text)
    text_lines = text.split("\n")
    for loc in paths(doc):
        assert loc in pos, (loc, text)
        line, col = pos[loc]
        at = text_lines[line - 1][col - 1:]
        last = loc[-1]
        if isinstance(last, str):
            # a key: either the key itself, or the header of a table / array of tables
            assert at.startswith(k(last)) or (at.startswith("[") and k(last) in at), (loc, at)
        else:
            assert at and not at[0].isspace(), (loc, at, text)
