"""Admin management of staff (職員) and departments (所属)."""
