"""The PostgreSQL backend of the store: :mod:`state.pg.store` (needs the optional ``asyncpg`` driver),
:mod:`state.pg.schema` (migrations and server-side functions), :mod:`state.pg.commit` (group commit)."""
