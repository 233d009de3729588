"""The central service: FastAPI + SQLAlchemy 2 + Alembic. Nothing but tests (and the CLI's
composition root, ``mynagate_cli``) imports this package."""
