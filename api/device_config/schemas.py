"""Admin payloads for a device's configuration (the reader's own part of its bundle)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.text import FreeText
from firmware_config.models import (
    DEFAULT_STAFF_AP_AID,
    BuzzerPatterns,
    LedPatterns,
    OfflineLimits,
)

# Strings here are checked in full when the bundle is rendered (firmware_config.models):
# pins, URIs and keys have patterns there. FreeText bounds them and refuses 12 digits.

# A BCM number or a pin name (GPIO17, BOARD11, J8:11).
WiredPin = int | FreeText[16]


class IndicatorWiring(BaseModel):
    """The reader's own LEDs and buzzer on GPIO (firmware_config's ``indicator``)."""

    model_config = ConfigDict(extra="forbid")

    green_pin: WiredPin | None = None
    red_pin: WiredPin | None = None
    buzzer_pin: WiredPin | None = None


class KeypadSettings(BaseModel):
    """The PIN keypad of card+PIN doors (firmware_config's ``keypad``)."""

    model_config = ConfigDict(extra="forbid")

    uri: FreeText[200]
    timeout_seconds: Annotated[float, Field(ge=1, le=120)] = 20.0
    clear_key: FreeText[1] = "*"
    enter_key: FreeText[1] = "#"


class DoorWiring(BaseModel):
    """How one of the device's doors is wired to the reader host (door_io = "gpio")."""

    model_config = ConfigDict(extra="forbid")

    door_id: Annotated[int, Field(ge=1)]
    relay_pin: WiredPin | None = None
    sensor_pin: WiredPin | None = None
    relay_active_high: bool = True
    sensor_closed_is_low: bool = True
    held_open_seconds: Annotated[float, Field(ge=5, le=3600)] = 30.0


class DeviceConfigSettings(BaseModel):
    """What only the site knows about a reader host. Its doors (name, mode, assurance,
    fail-open, unlock time) come from the door table, its trust anchor from the service key.
    Checked as a whole (``firmware_config.models.ReaderConfig``) when set and when rendered."""

    model_config = ConfigDict(extra="forbid")

    driver: FreeText[200] = Field(description="card driver URI, e.g. pcsc:Sony")
    door_io: FreeText[64] = "sim"
    service_url: FreeText[300] = Field(description="the service URL the readers use",
                                       pattern=r"^https?://[^\s/\x00-\x1f]+(/[^\s\x00-\x1f]*)?$")
    doors: Annotated[list[DoorWiring], Field(max_length=8)] = Field(default_factory=list)
    indicator: IndicatorWiring = IndicatorWiring()
    keypad: KeypadSettings | None = None
    offline: OfflineLimits = OfflineLimits()
    staff_ap_aid: FreeText[48] = DEFAULT_STAFF_AP_AID
    led: LedPatterns = LedPatterns()
    buzzer: BuzzerPatterns = BuzzerPatterns()
    language: Literal["ja", "en"] = "ja"
    heartbeat_seconds: Annotated[float, Field(ge=1, le=3600)] = 30.0
    jpki_ca_certs: Annotated[list[Annotated[str, Field(max_length=16_000)]],
                             Field(max_length=8)] = Field(default_factory=list)


class DeviceConfigRead(BaseModel):
    device_id: uuid.UUID
    settings: dict[str, Any]
    # The version of the last bundle signed for this device (0: none yet); the device's own
    # heartbeat reports the one it runs (``/admin/devices/{id}``: config_version).
    config_version: int
    bundle: dict[str, Any] | None
