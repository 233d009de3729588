"""Events out: door events and alarms published to MQTT and posted to signed webhooks.

``queue.enqueue_events`` writes the deliveries in the transaction that stores the events, so
nothing is published for an event that was rolled back and nothing is lost after a commit;
``deliver.deliver_pending`` (the worker) sends them with retries. Payloads come from an
allowlist (``payloads``): never a PIN, a card key, a credential reference or a token.
"""
