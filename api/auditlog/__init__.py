"""The audit log read by auditors over HTTP: its pages and its chain check.

Apart from ``api.audit`` (the chain every domain writes to, ``api.users`` included) because reading
it needs ``api.users.auth``: together they would make the domain graph cyclic.
"""
