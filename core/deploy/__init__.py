"""Deployment of approved releases to servers: SSH transport, the offline agent kit, releases,
parity checks, canary and rollback."""
