"""Admin management of credentials: enrolment from public key material and status changes."""
