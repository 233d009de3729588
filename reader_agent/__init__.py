"""The reader agent: the edge process beside each card reader.

Parts (each module's docstring has the details):

- ``drivers`` / ``cards`` / ``card_auth`` — card readers by URI, virtual cards, the card
  sequences (staff AP v1 challenge–response, JPKI card+PIN);
- ``keypad`` — PIN keypads by URI (``pcsc-pinpad:``, ``serial:``, ``gpio:``, ``sim:``);
- ``tap_source`` — from a reader to the tap path (which sequence a door needs, the keypad);
- ``agent`` — the tap path (``TapProcessor``) and the process (``ReaderAgent``);
- ``snapshot_cache`` — the service-signed decision data, verified on every load;
- ``outbox`` — the durable, hash-chained event log (SQLite WAL, synchronous=FULL);
- ``uploader`` — background upload, heartbeat (clock offset, skew alarm), snapshot watcher;
- ``client`` — signed requests to ``/device/v1`` with a swappable transport;
- ``clock_point`` / ``display`` / ``door_io`` — punches, the display, the door hardware;
- ``keys`` — the device key and enrolled identity in the data directory.
"""

import sys

# httpx's package __init__ imports its command-line client (``httpx._main``, and with it click,
# rich and pygments) whenever those are installed: about 5.5 MB resident in every agent, which
# never runs it (encode/httpx#3547). Marked absent, httpx takes its own fallback for a missing
# CLI. Nothing changes in a process that imported httpx before this package.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "not importable"
