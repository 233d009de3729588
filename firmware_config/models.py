"""Typed device configuration: one site file describes every reader and lock of a municipality.

A site file (``site.toml``) is parsed into :class:`SiteConfig`. Settings shared by every reader
(service URL, trust anchors, offline limits, staff AP AID, LED and buzzer patterns, language)
sit at the top of the file; a reader may override any of them. :meth:`SiteConfig.reader_config`
resolves one reader into a complete, self-contained :class:`ReaderConfig`, which is what a
signed per-device bundle carries (``firmware_config.bundle``) and what the reader agent runs on.

Every model forbids unknown fields, so a misspelt key is an error rather than a silent default.
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from gate.door import Assurance, DoorMode

__all__ = [
    "DEFAULT_STAFF_AP_AID",
    "BuzzerPattern",
    "BuzzerPatterns",
    "DoorConfig",
    "IndicatorPins",
    "KeypadConfig",
    "LedPattern",
    "LedPatterns",
    "LockConfig",
    "OfflineLimits",
    "ReaderConfig",
    "ReaderEntry",
    "SiteConfig",
    "TrustAnchors",
    "parse_driver_uri",
    "keypad_matrix_pins",
    "parse_keypad_uri",
]

DEFAULT_STAFF_AP_AID = "F04D4E4741544501"

# Card reader drivers, chosen by URI like nfcpy's connect paths.
#   pcsc:                 the first PC/SC reader
#   pcsc:<name part>      the first PC/SC reader whose name contains <name part> (e.g. pcsc:Sony)
#   nfc:usb | nfc:usb:054c:06c3 | nfc:usb:001:004   nfcpy over USB (RC-S380 …)
#   nfc:tty:<dev>[:<driver>]                         nfcpy over a serial port (PN532 …)
#   nfc:udp:<host>:<port>                            nfcpy's udp driver (tests, rehearsal)
#   sim:<name>            an in-process virtual card slot
_DRIVER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pcsc", re.compile(r"^pcsc:(?P<arg>[^\x00-\x1f]*)$")),
    ("nfc", re.compile(r"^nfc:(?P<arg>usb(?::[0-9a-fA-F]{3,4}(?::[0-9a-fA-F]{3,4})?)?)$")),
    ("nfc", re.compile(r"^nfc:(?P<arg>tty:[A-Za-z0-9_./-]+(?::[a-z0-9]+)?)$")),
    ("nfc", re.compile(r"^nfc:(?P<arg>udp:[A-Za-z0-9_.-]+:[0-9]{1,5})$")),
    ("sim", re.compile(r"^sim:(?P<arg>[A-Za-z0-9_.-]+)$")),
)

# PIN keypads of card+PIN doors, chosen by URI like the card drivers (reader_agent.keypad).
#   pcsc-pinpad:[NAME]        the PC/SC card reader's own PIN pad (secure PIN entry, Part 10)
#   serial:DEVICE[:BAUD]      a serial / USB-serial keypad, e.g. serial:/dev/ttyUSB0:9600
#   gpio:[R,R,R,R/C,C,C]      a 4x3 matrix keypad on GPIO (BCM), e.g. gpio:21,20,16,12/7,8,25
#   sim:[NAME]                an in-process keypad (demo, tests)
_KEYPAD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pcsc-pinpad", re.compile(r"^pcsc-pinpad:(?P<arg>[^\x00-\x1f]*)$")),
    ("serial", re.compile(r"^serial:(?P<arg>/[A-Za-z0-9_./-]+(?::[0-9]{3,7})?)$")),
    ("gpio", re.compile(r"^gpio:(?P<arg>([0-9]{1,2}(,[0-9]{1,2}){3}/[0-9]{1,2}(,[0-9]{1,2}){2})?)$")),
    ("sim", re.compile(r"^sim:(?P<arg>[A-Za-z0-9_.-]*)$")),
)

# Door I/O drivers: gpio (gpiozero on the host, BCM numbering) or sim (a simulated door).
_DOOR_IO_PATTERN = re.compile(r"^(gpio|gpio:[a-z]+|sim|sim:[A-Za-z0-9_.-]*)$")

_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_PIN_PATTERN = re.compile(r"^(GPIO|BCM|BOARD)[0-9]{1,2}$|^J8:[0-9]{1,2}$")


def _split_uri(uri: str, patterns: tuple[tuple[str, re.Pattern[str]], ...],
               unknown: str) -> tuple[str, str]:
    for scheme, pattern in patterns:
        m = pattern.match(uri)
        if m:
            return scheme, m.group("arg")
    raise ValueError(unknown)


def parse_driver_uri(uri: str) -> tuple[str, str]:
    """Split a card driver URI into (scheme, argument), or raise ValueError."""
    return _split_uri(uri, _DRIVER_PATTERNS, (
        f"unknown card driver URI {uri!r}: expected pcsc:[NAME], nfc:usb[:VID:PID], "
        "nfc:tty:DEV[:DRIVER], nfc:udp:HOST:PORT or sim:NAME"))


DEFAULT_KEYPAD_ROWS = (21, 20, 16, 12)  # BCM; a gpio: keypad without pins uses these
DEFAULT_KEYPAD_COLS = (7, 8, 25)


def parse_keypad_uri(uri: str) -> tuple[str, str]:
    """Split a keypad URI into (scheme, argument), or raise ValueError."""
    return _split_uri(uri, _KEYPAD_PATTERNS, (
        f"unknown keypad URI {uri!r}: expected pcsc-pinpad:[NAME], serial:DEVICE[:BAUD], "
        "gpio:[R,R,R,R/C,C,C] or sim:[NAME]"))


def keypad_matrix_pins(arg: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(rows, columns) of a ``gpio:`` keypad URI argument (the defaults when empty)."""
    if not arg:
        return DEFAULT_KEYPAD_ROWS, DEFAULT_KEYPAD_COLS
    rows, cols = arg.split("/")
    return tuple(map(int, rows.split(","))), tuple(map(int, cols.split(",")))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Milliseconds = Annotated[int, Field(ge=0, le=10_000)]
Pin = int | str


def _check_pin(value: Pin | None) -> Pin | None:
    if value is None:
        return None
    if isinstance(value, int):
        if not 0 <= value <= 53:
            raise ValueError("a BCM pin number is between 0 and 53")
        return value
    if not _PIN_PATTERN.match(value):
        raise ValueError("a pin is a BCM number (17) or a name such as GPIO17, BOARD11, J8:11")
    return value


class LedPattern(_Strict):
    """A blink pattern: ``repeat`` times on for ``on_ms``, off for ``off_ms``."""

    color: Literal["green", "red", "amber", "blue", "off"]
    on_ms: Milliseconds = 200
    off_ms: Milliseconds = 0
    repeat: Annotated[int, Field(ge=1, le=20)] = 1


class BuzzerPattern(_Strict):
    """``beeps`` beeps of ``on_ms``, separated by ``off_ms`` of silence (0 beeps = silent)."""

    beeps: Annotated[int, Field(ge=0, le=10)] = 1
    on_ms: Milliseconds = 100
    off_ms: Milliseconds = 100


class LedPatterns(_Strict):
    granted: LedPattern = LedPattern(color="green", on_ms=1000)
    denied: LedPattern = LedPattern(color="red", on_ms=200, off_ms=200, repeat=3)
    error: LedPattern = LedPattern(color="amber", on_ms=200, off_ms=200, repeat=5)
    alarm: LedPattern = LedPattern(color="red", on_ms=500, off_ms=500, repeat=10)
    idle: LedPattern = LedPattern(color="blue", on_ms=0)


class BuzzerPatterns(_Strict):
    granted: BuzzerPattern = BuzzerPattern(beeps=1, on_ms=100)
    denied: BuzzerPattern = BuzzerPattern(beeps=3, on_ms=80, off_ms=80)
    error: BuzzerPattern = BuzzerPattern(beeps=2, on_ms=300, off_ms=150)
    alarm: BuzzerPattern = BuzzerPattern(beeps=10, on_ms=500, off_ms=500)


def _check_pem(pem: str) -> str:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError as err:
        raise ValueError("not a PEM X.509 certificate") from err
    return pem


class TrustAnchors(_Strict):
    """What the device trusts: the service's Ed25519 signing key and the JPKI auth CAs."""

    service_public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    jpki_ca_certs: list[Annotated[str, AfterValidator(_check_pem)]] = Field(
        default_factory=list, description="PEM certificates of the JPKI authentication CAs")

    @field_validator("service_public_key")
    @classmethod
    def _ed25519(cls, v: str) -> str:
        try:
            raw = base64.b64decode(v, validate=True)
        except ValueError as err:
            raise ValueError("service_public_key is not valid base64") from err
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
        return v


class OfflineLimits(_Strict):
    max_offline_age_hours: Annotated[float, Field(gt=0, le=24 * 31)] = 72.0
    clock_skew_alarm_ms: Annotated[int, Field(ge=100, le=3_600_000)] = 5000
    fail_open: bool = Field(
        default=False,
        description="site-wide default; a door's own fail_open wins")


class DoorConfig(_Strict):
    """One door (or clock point) served by a reader.

    ``door_id`` is the service's door id. A pure clock point (``mode = "clock"``) has no strike.
    ``fail_open`` puts the door on the list that keeps admitting enrolled cards once the
    snapshot is older than ``max_offline_age_hours``.
    """

    door_id: Annotated[int, Field(ge=1)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    mode: DoorMode = DoorMode.ACCESS
    assurance: Assurance = Assurance.CARD
    unlock_seconds: Annotated[float, Field(ge=1, le=60)] = 5.0
    held_open_seconds: Annotated[float, Field(ge=5, le=3600)] = 30.0
    relay_pin: Pin | None = None
    sensor_pin: Pin | None = None
    relay_active_high: bool = True
    sensor_closed_is_low: bool = Field(
        default=True, description="a normally-closed contact to ground reads low when shut")
    fail_open: bool = False

    @field_validator("relay_pin", "sensor_pin")
    @classmethod
    def _pin(cls, v: Pin | None) -> Pin | None:
        return _check_pin(v)

    @model_validator(mode="after")
    def _clock_has_no_strike(self) -> DoorConfig:
        if not self.mode.unlocks and self.relay_pin is not None:
            raise ValueError("a clock point (mode = \"clock\") has no strike: remove relay_pin")
        if not self.mode.unlocks and self.fail_open:
            raise ValueError("fail_open applies to doors, not clock points")
        if self.relay_pin is not None and self.relay_pin == self.sensor_pin:
            raise ValueError("relay_pin and sensor_pin must differ")
        return self

    @property
    def has_strike(self) -> bool:
        return self.mode.unlocks


class IndicatorPins(_Strict):
    """GPIO pins of the reader's own LEDs and buzzer (door_io = "gpio"); all optional."""

    green_pin: Pin | None = None
    red_pin: Pin | None = None
    buzzer_pin: Pin | None = None

    @field_validator("green_pin", "red_pin", "buzzer_pin")
    @classmethod
    def _pin(cls, v: Pin | None) -> Pin | None:
        return _check_pin(v)


def _key(v: str) -> str:
    if len(v) != 1 or v.isdigit() or not (v.isprintable() or v in "\r\n"):
        raise ValueError("a key is one character other than a digit, e.g. \"#\" or \"\\r\"")
    return v


class KeypadConfig(_Strict):
    """The PIN keypad of a reader with card+PIN doors (``keypad = { uri = "…" }``)."""

    model_config = ConfigDict(str_strip_whitespace=False)  # an enter key may be "\r"

    uri: str = Field(description="pcsc-pinpad:[NAME], serial:DEVICE[:BAUD], gpio:[…], sim:")
    timeout_seconds: Annotated[float, Field(ge=1, le=120)] = 20.0
    clear_key: Annotated[str, AfterValidator(_key)] = "*"
    enter_key: Annotated[str, AfterValidator(_key)] = "#"

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        parse_keypad_uri(v)
        return v

    @model_validator(mode="after")
    def _distinct_keys(self) -> KeypadConfig:
        if self.clear_key == self.enter_key:
            raise ValueError("clear_key and enter_key must differ")
        return self

    def gpio_pins(self) -> list[int]:
        """The BCM pins a ``gpio:`` keypad claims (its defaults when the URI names none)."""
        scheme, arg = parse_keypad_uri(self.uri)
        if scheme != "gpio":
            return []
        rows, cols = keypad_matrix_pins(arg)
        return [*rows, *cols]


def _aid(v: str) -> str:
    v = v.replace(" ", "").upper()
    if not re.fullmatch(r"([0-9A-F]{2}){5,16}", v):
        raise ValueError("an AID is 5 to 16 bytes of hex, e.g. F04D4E4741544501")
    return v


class _ReaderBase(_Strict):
    name: Annotated[str, Field(pattern=_NAME_PATTERN,
                               description="device name, unique in the site (lowercase, - _)")]
    driver: str = Field(description="card driver URI: pcsc:Sony, nfc:usb, nfc:udp:HOST:PORT, "
                                    "sim:NAME")
    door_io: str = Field(default="sim", description="door I/O driver: gpio or sim")
    doors: Annotated[list[DoorConfig], Field(min_length=1, max_length=8)]
    indicator: IndicatorPins = IndicatorPins()
    keypad: KeypadConfig | None = None

    @field_validator("driver")
    @classmethod
    def _driver(cls, v: str) -> str:
        parse_driver_uri(v)
        return v

    @field_validator("door_io")
    @classmethod
    def _door_io(cls, v: str) -> str:
        if not _DOOR_IO_PATTERN.match(v):
            raise ValueError("door_io is \"gpio\" or \"sim\" (optionally sim:NAME)")
        return v

    @model_validator(mode="after")
    def _doors_consistent(self) -> _ReaderBase:
        ids = [d.door_id for d in self.doors]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"door_id {dup[0]} appears twice on this reader")
        ind = self.indicator
        pins = [p for d in self.doors for p in (d.relay_pin, d.sensor_pin) if p is not None]
        pins += [p for p in (ind.green_pin, ind.red_pin, ind.buzzer_pin) if p is not None]
        dup_pins = sorted({str(p) for p in pins if pins.count(p) > 1})
        if dup_pins:
            raise ValueError(f"pin {dup_pins[0]} is used twice on this reader")
        self._keypad_fits()
        if self.door_io.startswith("gpio"):
            for d in self.doors:
                if d.has_strike and d.relay_pin is None:
                    raise ValueError(
                        f"door {d.door_id} ({d.name}) needs relay_pin with door_io = \"gpio\"")
        return self


    def _keypad_fits(self) -> None:
        pin_doors = [d for d in self.doors if d.assurance.needs_pin]
        if pin_doors and self.keypad is None:
            d = pin_doors[0]
            raise ValueError(f"door {d.door_id} ({d.name}) is card+pin: set keypad = "
                             "{ uri = \"pcsc-pinpad:\" } (or serial:, gpio:)")
        if self.keypad is None:
            return
        if self.keypad.uri.startswith("pcsc-pinpad:") and not self.driver.startswith("pcsc:"):
            raise ValueError("keypad pcsc-pinpad: is the PIN pad of a PC/SC reader: the driver "
                             "must be pcsc:")
        used = {int(p) for d in self.doors for p in (d.relay_pin, d.sensor_pin)
                if isinstance(p, int)}
        used |= {p for p in (self.indicator.green_pin, self.indicator.red_pin,
                             self.indicator.buzzer_pin) if isinstance(p, int)}
        clash = sorted(used & set(self.keypad.gpio_pins()))
        if clash:
            raise ValueError(f"keypad pin {clash[0]} is also used by a door or indicator")


class ReaderConfig(_ReaderBase):
    """The complete configuration of one reader host: what a signed bundle carries."""

    service_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
    trust: TrustAnchors
    offline: OfflineLimits = OfflineLimits()
    staff_ap_aid: str = DEFAULT_STAFF_AP_AID
    led: LedPatterns = LedPatterns()
    buzzer: BuzzerPatterns = BuzzerPatterns()
    language: Literal["ja", "en"] = "ja"
    heartbeat_seconds: Annotated[float, Field(ge=1, le=3600)] = 30.0

    @field_validator("staff_ap_aid")
    @classmethod
    def _aid_hex(cls, v: str) -> str:
        return _aid(v)

    def fail_open_doors(self) -> frozenset[int]:
        """Doors that keep admitting enrolled cards past the offline age limit."""
        return frozenset(d.door_id for d in self.doors
                         if d.has_strike and (d.fail_open or self.offline.fail_open))


class ReaderEntry(_ReaderBase):
    """A reader as written in the site file: unset shared settings come from the site."""

    service_url: Annotated[str | None, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] = None
    trust: TrustAnchors | None = None
    offline: OfflineLimits | None = None
    staff_ap_aid: str | None = None
    led: LedPatterns | None = None
    buzzer: BuzzerPatterns | None = None
    language: Literal["ja", "en"] | None = None
    heartbeat_seconds: Annotated[float | None, Field(ge=1, le=3600)] = None

    @field_validator("staff_ap_aid")
    @classmethod
    def _aid_opt(cls, v: str | None) -> str | None:
        return None if v is None else _aid(v)


class LockConfig(_Strict):
    """A smart lock (offline PIN keypad or online lock) at a facility."""

    lock_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["online", "offline"]
    door_id: Annotated[int | None, Field(ge=1)] = None
    early_grace_slots: Annotated[int, Field(ge=0, le=8)] = 1
    late_grace_slots: Annotated[int, Field(ge=0, le=8)] = 1
    poll_interval_seconds: Annotated[float | None, Field(ge=5, le=86400)] = None
    generation: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _poll_only_online(self) -> LockConfig:
        if self.kind == "offline" and self.poll_interval_seconds is not None:
            raise ValueError("an offline lock is never polled: remove poll_interval_seconds")
        return self


class SiteConfig(_Strict):
    """A municipality's whole device estate (``site.toml``)."""

    municipality_code: Annotated[str, Field(pattern=r"^[0-9]{6}$",
                                            description="全国地方公共団体コード, 6 digits")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    config_version: Annotated[int, Field(ge=1, description="raise on every change")]
    service_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
    trust: TrustAnchors
    offline: OfflineLimits = OfflineLimits()
    staff_ap_aid: str = DEFAULT_STAFF_AP_AID
    led: LedPatterns = LedPatterns()
    buzzer: BuzzerPatterns = BuzzerPatterns()
    language: Literal["ja", "en"] = "ja"
    heartbeat_seconds: Annotated[float, Field(ge=1, le=3600)] = 30.0
    readers: list[ReaderEntry] = Field(default_factory=list)
    locks: list[LockConfig] = Field(default_factory=list)

    @field_validator("staff_ap_aid")
    @classmethod
    def _aid_hex(cls, v: str) -> str:
        return _aid(v)

    @model_validator(mode="after")
    def _unique(self) -> SiteConfig:
        names = [r.name for r in self.readers]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"reader name {n!r} appears twice")
        locks = [lk.lock_id for lk in self.locks]
        for n in locks:
            if locks.count(n) > 1:
                raise ValueError(f"lock_id {n!r} appears twice")
        return self

    def reader_config(self, name: str) -> ReaderConfig:
        """The complete configuration of one reader, with site settings filled in."""
        for entry in self.readers:
            if entry.name == name:
                break
        else:
            raise KeyError(name)
        data = entry.model_dump(exclude_none=True)
        for key in ("service_url", "trust", "offline", "staff_ap_aid", "led", "buzzer",
                    "language", "heartbeat_seconds"):
            data.setdefault(key, getattr(self, key))
        return ReaderConfig.model_validate(data)

    def reader_configs(self) -> list[ReaderConfig]:
        return [self.reader_config(r.name) for r in self.readers]
