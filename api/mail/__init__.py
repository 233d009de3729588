"""Outgoing email: SMTP settings (``MYNAGATE_SMTP_*``), sending, Japanese templates."""
