"""Each reader's firmware_config bundle, rendered and signed by the service (docs/deploy-reader.md)."""
