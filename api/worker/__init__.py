"""``mynagate worker``: the service's timed work in one process, safe to run twice.

- ``scheduler``: the PostgreSQL job table (``FOR UPDATE SKIP LOCKED``);
- ``jobs``: mail outbox, events out, lock alerts, the monthly export reminder, retention,
  nonce pruning, device heartbeats;
- ``retention``: pruning with signed summaries so hash chains still verify;
- ``runner``: the loop, stopped cleanly by SIGTERM.
"""
