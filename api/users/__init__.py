"""Identities of the people who run mynagate: users, roles, sessions and API tokens."""
