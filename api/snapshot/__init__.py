"""The signed decision-data snapshot served to reader agents (full and delta)."""
