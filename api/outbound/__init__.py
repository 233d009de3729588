"""Events out: door events and alarms published to MQTT and posted to signed webhooks.

The transaction that stores events queues them (``queue.queue_events``, or ingest's own
insert statement), so nothing is published for an event that was rolled back and nothing is
lost after a commit; ``deliver.deliver_pending`` (the worker) turns them into deliveries
(``queue.expand_queued``) and sends those with retries. Payloads come from an
allowlist (``payloads``): never a PIN, a card key, a credential reference or a token.
"""
