"""Events from reader agents: ingest (device API) and the admin query API."""
