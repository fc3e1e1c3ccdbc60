"""Deployment and local-infrastructure helpers (e.g. a throwaway PostgreSQL server)."""
