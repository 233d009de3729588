"""Admin management of sites (buildings) and doors: mode, assurance, lockdown, fail-open."""
