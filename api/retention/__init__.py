"""Retention summaries: what a pruning removed from the start of a hash chain (device events
or the audit log), signed with the service key so the rest of the chain still verifies.

Its own domain so that both the pruning (``api.worker.retention``) and the audit log's
verifier (``api.audit.service``) use it without importing each other."""
