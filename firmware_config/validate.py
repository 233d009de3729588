"""``mynagate config validate``: line-precise errors for a site file.

Two passes:

1. ``tomllib`` parses the file; a syntax error already carries its line and column.
2. :class:`~firmware_config.models.SiteConfig` validates the data; each pydantic error location
   (``("readers", 3, "doors", 0, "unlock_seconds")``) is mapped back to the line and column of
   that key in the file by :func:`key_positions`, a small scanner over the (already valid)
   TOML text that records where every table header, key and array element starts.

An error on a missing key points at the table that lacks it; an error on a whole table (a
model-level rule) points at its header.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .models import SiteConfig

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "Loc",
    "key_positions",
    "load_site",
    "production_issues",
    "validate_site_text",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ConfigError(ValueError):
    """A site file is not valid TOML or does not match the schema."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


# ---- where is each key? ---------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ATOM_END = re.compile(r"[,\]}\n#]")


class _Scanner:
    """Records the (line, col) of every key, table and array element of a valid TOML text."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line_starts = [0]
        for m in re.finditer("\n", text):
            self.line_starts.append(m.end())
        self.pos: dict[Loc, tuple[int, int]] = {}
        self.aot: dict[Loc, int] = {}  # array-of-tables path → element count

    def where(self, i: int) -> tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= i:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, i - self.line_starts[lo] + 1

    def mark(self, loc: Loc, i: int) -> None:
        self.pos.setdefault(loc, self.where(i))

    # -- lexical helpers
    def skip_ws(self, newlines: bool = False) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def string(self) -> str:
        s, i = self.s, self.i
        for q in ('"""', "'''"):
            if s.startswith(q, i):
                end = i + 3
                while True:
                    j = s.index(q, end)
                    if q == '"""' and _escaped(s, j):
                        end = j + 1
                        continue
                    # a closing delimiter may be followed by up to two more quotes
                    while s.startswith(q[0], j + 3):
                        j += 1
                    self.i = j + 3
                    return s[i + 3:j]
        q = s[i]
        j = i + 1
        while True:
            j = s.index(q, j)
            if q == '"' and _escaped(s, j):
                j += 1
                continue
            break
        self.i = j + 1
        raw = s[i + 1:j]
        if q == '"':
            try:
                return str(tomllib.loads(f"k = {s[i:j + 1]}")["k"])
            except tomllib.TOMLDecodeError:  # pragma: no cover - the text parsed before
                return raw
        return raw

    def key(self) -> tuple[list[str], list[int]]:
        """A (dotted) key: its parts and where each part starts."""
        parts: list[str] = []
        starts: list[int] = []
        while True:
            self.skip_ws()
            starts.append(self.i)
            if self.s[self.i] in "\"'":
                parts.append(self.string())
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if not m:
                    raise ValueError(f"key expected at {self.where(self.i)}")
                parts.append(m.group())
                self.i = m.end()
            self.skip_ws()
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts, starts

    # -- structure
    def document(self) -> None:
        table: Loc = ()
        s = self.s
        while True:
            self.skip_ws(newlines=True)
            if self.i >= len(s):
                return
            start = self.i
            if s.startswith("[[", self.i):
                self.i += 2
                parts, _ = self.key()
                self.i = s.index("]]", self.i) + 2
                base = self._resolve(parts[:-1]) + (parts[-1],)
                n = self.aot.get(base, 0)
                self.aot[base] = n + 1
                table = base + (n,)
                self.mark(base, start)
                self.mark(table, start)
            elif s[self.i] == "[":
                self.i += 1
                parts, _ = self.key()
                self.i = s.index("]", self.i) + 1
                table = self._resolve(parts)
                self.mark(table, start)
            else:
                self.keyval(table)

    def _resolve(self, parts: list[str]) -> Loc:
        loc: Loc = ()
        for p in parts:
            loc += (p,)
            if loc in self.aot:
                loc += (self.aot[loc] - 1,)
        return loc

    def keyval(self, table: Loc) -> None:
        parts, starts = self.key()
        loc = table
        for p, st in zip(parts, starts, strict=True):
            loc += (p,)
            self.mark(loc, st)
        self.skip_ws()
        self.i += 1  # '='
        self.skip_ws()
        self.value(loc)

    def value(self, loc: Loc) -> None:
        s = self.s
        c = s[self.i]
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            n = 0
            while True:
                self.skip_ws(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    return
                self.mark(loc + (n,), self.i)
                self.value(loc + (n,))
                n += 1
                self.skip_ws(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif c == "{":
            self.i += 1
            while True:
                self.skip_ws()
                if s[self.i] == "}":
                    self.i += 1
                    return
                self.keyval(loc)
                self.skip_ws()
                if s[self.i] == ",":
                    self.i += 1
        else:
            m = _ATOM_END.search(s, self.i)
            self.i = m.start() if m else len(s)


def _escaped(s: str, j: int) -> bool:
    n = 0
    while j - 1 - n >= 0 and s[j - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def key_positions(text: str) -> dict[Loc, tuple[int, int]]:
    """Where each key, table header and array element of a valid TOML text starts."""
    sc = _Scanner(text)
    sc.document()
    return sc.pos


# ---- validation -----------------------------------------------------------------------------

_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _locate(loc: Loc, positions: dict[Loc, tuple[int, int]]) -> tuple[Loc, tuple[int, int]]:
    """The longest prefix of ``loc`` found in the file, and where it is."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in positions:
            return loc[:n], positions[loc[:n]]
    return (), (1, 1)


def _schema_issues(err: ValidationError, text: str, file: str, prefix: Loc = (),
                   aliases: dict[Loc, Loc] | None = None) -> list[ConfigIssue]:
    positions = key_positions(text)
    grouped: dict[tuple[Loc, tuple[int, int]], list[str]] = {}
    order: list[tuple[Loc, tuple[int, int]]] = []
    for e in err.errors(include_url=False):
        loc: Loc = prefix + tuple(e["loc"])
        for src, dst in (aliases or {}).items():
            if loc[:len(src)] == src:
                loc = dst + loc[len(src):]
        found, where = _locate(loc, positions)
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        # union branches ("int", "str", "function-after[…]") are not keys: name the field
        field_loc = found
        if e["type"] == "missing":
            field_loc = loc
            msg = "required key is missing"
        elif e["type"] == "extra_forbidden":
            field_loc = loc
            msg = "unknown key (not allowed here)"
        key = (field_loc, where)
        if key not in grouped:
            grouped[key] = []
            order.append(key)
        if msg not in grouped[key]:
            grouped[key].append(msg)
    issues = [ConfigIssue(file, where[0], where[1],
                          f"{_dotted(loc)}: {' / '.join(grouped[(loc, where)])}")
              for loc, where in order]
    return sorted(issues, key=lambda i: (i.line, i.col))


def _inline_ca_files(data: dict[str, Any], text: str, file: str, base_dir: Path | None,
                     aliases: dict[Loc, Loc]) -> list[ConfigIssue]:
    """Read ``jpki_ca_files`` into ``jpki_ca_certs``; ``aliases`` maps each inlined
    certificate's location back to its file entry, for error messages."""
    tables: list[tuple[Loc, Any]] = [(("trust",), data.get("trust"))]
    readers = data.get("readers")
    if isinstance(readers, list):
        tables += [(("readers", i, "trust"), r.get("trust"))
                   for i, r in enumerate(readers) if isinstance(r, dict)]
    issues: list[ConfigIssue] = []
    positions: dict[Loc, tuple[int, int]] | None = None
    for loc, trust in tables:
        if not isinstance(trust, dict) or "jpki_ca_files" not in trust:
            continue
        files = trust.pop("jpki_ca_files")
        if positions is None:
            positions = key_positions(text)
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            where = _locate(loc + ("jpki_ca_files",), positions)[1]
            issues.append(ConfigIssue(file, where[0], where[1],
                                      f"{_dotted(loc)}.jpki_ca_files: a list of file paths"))
            continue
        certs = list(trust.get("jpki_ca_certs", []))
        for j, name in enumerate(files):
            path = (base_dir or Path(".")) / name
            try:
                pem = path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as err:
                where = _locate(loc + ("jpki_ca_files", j), positions)[1]
                issues.append(ConfigIssue(file, where[0], where[1],
                                          f"{_dotted(loc)}.jpki_ca_files[{j}]: cannot read "
                                          f"{path}: {getattr(err, 'strerror', None) or err}"))
                continue
            aliases[loc + ("jpki_ca_certs", len(certs))] = loc + ("jpki_ca_files", j)
            certs.append(pem)
        trust["jpki_ca_certs"] = certs
    return issues


def _duplicates(data: dict[str, Any], text: str, file: str) -> list[ConfigIssue]:
    """A reader name or lock id used twice: point at the second use."""
    issues: list[ConfigIssue] = []
    for table, key in (("readers", "name"), ("locks", "lock_id")):
        items = data.get(table)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for j, item in enumerate(items):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, str):
                continue
            if value in seen:
                where = _locate((table, j, key), key_positions(text))[1]
                issues.append(ConfigIssue(
                    file, where[0], where[1],
                    f"{table}[{j}].{key}: {value!r} is already used by {table}[{seen[value]}]"))
            else:
                seen[value] = j
    return issues


def validate_site_text(text: str, file: str = "site.toml", base_dir: Path | None = None,
                       ) -> tuple[SiteConfig | None, list[ConfigIssue]]:
    """Parse and validate a site file; return the config (or None) and the issues found.

    ``trust.jpki_ca_files`` (paths relative to ``base_dir``, the site file's directory) are
    read and appended to ``trust.jpki_ca_certs``, so a bundle carries the PEMs themselves.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = _SYNTAX_AT.search(msg)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            msg = msg[:m.start()]
        else:  # "at end of document"
            msg = re.sub(r"\s*\(at end of document\)\s*$", "", msg)
            line = text.count("\n") + 1
            col = len(text.rsplit("\n", 1)[-1]) + 1
        return None, [ConfigIssue(file, line, col, f"TOML syntax: {msg}")]
    aliases: dict[Loc, Loc] = {}
    file_issues = (_inline_ca_files(data, text, file, base_dir, aliases)
                   + _duplicates(data, text, file))
    if file_issues:
        return None, file_issues
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as err:
        return None, _schema_issues(err, text, file, aliases=aliases)
    issues: list[ConfigIssue] = []
    for i, entry in enumerate(site.readers):
        try:
            site.reader_config(entry.name)
        except ValidationError as err:  # a site setting that does not fit this reader
            issues += _schema_issues(err, text, file, prefix=("readers", i))
    return (None, issues) if issues else (site, [])


# In-process virtual cards, and nfcpy's UDP driver that takes virtual cards from the network.
SIMULATED_DRIVERS = ("sim:", "nfc:udp")


def production_issues(site: SiteConfig, text: str, file: str) -> list[ConfigIssue]:
    """What must not reach a real door: simulated card drivers, keypads and door I/O."""
    positions = key_positions(text)
    issues: list[ConfigIssue] = []
    for i, r in enumerate(site.readers):
        if r.driver.startswith(SIMULATED_DRIVERS):
            line, col = _locate(("readers", i, "driver"), positions)[1]
            issues.append(ConfigIssue(file, line, col, f"readers[{i}].driver: {r.driver!r} is a "
                                      "simulated card reader (virtual cards), not for a real "
                                      "door"))
        if r.keypad is not None and r.keypad.uri.startswith("sim:"):
            line, col = _locate(("readers", i, "keypad", "uri"), positions)[1]
            issues.append(ConfigIssue(file, line, col, f"readers[{i}].keypad.uri: a simulated "
                                      "keypad, not for a real door"))
        if any(d.has_strike for d in r.doors) and r.door_io.startswith("sim"):
            line, col = _locate(("readers", i, "door_io"), positions)[1]
            issues.append(ConfigIssue(file, line, col, f"readers[{i}].door_io: a simulated door "
                                      "I/O does not drive the strike"))
    return issues


def load_site(path: str | Path) -> SiteConfig:
    """Load and validate a site file, or raise :class:`ConfigError` listing every issue."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError([ConfigIssue(str(p), 1, 1, f"not UTF-8 text: {err}")]) from err
    site, issues = validate_site_text(text, str(p), p.parent)
    if site is None:
        raise ConfigError(issues)
    return site

