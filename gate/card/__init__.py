"""Pure APDU building and parsing for the cards mynagate talks to.

- :mod:`gate.card.apdu`      — command/response APDUs, and the never-select guard;
- :mod:`gate.card.staff_ap`  — the staff card AP v1 (credential record, challenge, signature);
- :mod:`gate.card.jpki`      — the JPKI AP subset used for card+PIN doors.

No I/O here: drivers move the bytes, :mod:`reader_agent.card_auth` runs the sequences.
"""
