"""The device API ``/device/v1`` (docs/device-protocol.md): enrollment, signed requests,
heartbeat, snapshots (with long-poll), event batches and online decisions."""
