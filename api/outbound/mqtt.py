"""Publishing to an MQTT broker with paho-mqtt: QoS 1, each publish confirmed (PUBACK)
before its delivery row is marked delivered."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt

from .settings import MqttSettings


class PublishError(Exception):
    """The broker could not be reached or did not confirm a publish (retried later)."""


class MqttPublisher:
    """One connection to the broker, opened on first use and kept across passes."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self._client: mqtt.Client | None = None

    def _connected(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self.close()
        s = self.settings
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=s.client_id)
        if s.username:
            client.username_pw_set(s.username, s.password)
        try:
            client.connect(s.host, s.port, keepalive=60)
        except OSError as err:
            raise PublishError(f"cannot connect to {s.host}:{s.port}: {err}") from err
        client.loop_start()
        self._client = client
        return client

    def publish(self, topic: str, payload: dict[str, Any], *, retain: bool) -> None:
        client = self._connected()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        info = client.publish(f"{self.settings.topic_root}/{topic}", body, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout=self.settings.timeout_s)
        except (RuntimeError, ValueError) as err:
            self.close()
            raise PublishError(f"publish to {topic} failed: {err}") from err
        if not info.is_published():
            self.close()
            raise PublishError(f"publish to {topic} not confirmed in {self.settings.timeout_s} s")

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
