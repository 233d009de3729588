"""The pure door-side core: card protocols, access policy, door state machine, offline PIN codes.

Nothing in this package does I/O, and it imports none of ``reader_agent``, ``api``,
``firmware_config``, FastAPI or SQLAlchemy (``tests/test_import_direction.py`` checks it).
"""
