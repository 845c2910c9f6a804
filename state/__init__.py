"""Persistence: the store interface (api.py), its SQLite (store.py) and PostgreSQL (pg/) backends, records."""
