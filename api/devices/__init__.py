"""Admin management of reader agents: create (with a one-time enrollment token), list, revoke."""
