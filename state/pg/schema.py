"""The PostgreSQL schema: the same versions, tables and columns as :mod:`state.schema` (SQLite).

``PG_MIGRATIONS[n]`` brings a database from version n to n + 1, exactly as ``MIGRATIONS[n]`` does on
SQLite (tests/state/test_schema_parity.py compares the two column by column). The version lives in
the one-row table ``arb_schema``; :func:`state.pg.store.PgStore.open` runs the missing scripts, each
in its own transaction under an advisory lock, and refuses a database whose version is newer.

Differences that do not change the meaning: ``BIGINT`` milliseconds, ``BIGSERIAL`` ids, and
``fills.id``, the booking order that SQLite keeps in its implicit ``rowid``. The PostgreSQL scripts
also create the server-side functions the store calls, each ONE round trip:

* ``arb_now_ms()``: the server's clock in epoch ms (leases and heartbeats never use a host's clock);
* ``arb_commit_steps(steps jsonb, durable boolean) -> jsonb``: a group of FSM steps in one
  transaction, each step in its own subtransaction (a fenced or failing step is rolled back alone;
  the others commit), ``synchronous_commit`` off unless a step is durable; one result per step:
  ``["ok", version]``, ``["fenced"]`` or ``["error", sqlstate, message]``;
* ``arb_heartbeat(owner, ids)``: refresh leases (not flushed), returns the ids still held;
* ``arb_put_live(ids, ts, data)``: upsert telemetry (not flushed).

Rows of ``tasks`` are always locked in ``task_id`` order (groups are sorted by the store, the
heartbeat locks ``ORDER BY task_id``), so two processes never deadlock on each other's leases.
A new SQLite migration needs its PostgreSQL twin here (the parity test fails until it has one).
"""

from __future__ import annotations

from state.pg.history import MIGRATION as HISTORY_MIGRATION

_V1_TABLES = """
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    mode TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    state_entered_ms BIGINT NOT NULL DEFAULT 0,
    owner_id TEXT,
    owner_pid INTEGER,
    owner_host TEXT,
    heartbeat_ms BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 0,
    context TEXT NOT NULL DEFAULT '{}',
    pnl TEXT NOT NULL DEFAULT '{}',
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE transitions (
    id BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    version BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    trigger TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX transitions_task ON transitions(task_id, id);
CREATE TABLE order_intents (
    client_order_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX order_intents_task ON order_intents(task_id, seq);
CREATE TABLE fills (
    id BIGSERIAL NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    venue TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (task_id, venue, trade_id)
);
CREATE INDEX fills_task ON fills(task_id, id);
CREATE TABLE funding (
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    venue TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (task_id, venue, ts_ms)
);
CREATE TABLE control (
    id BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    action TEXT NOT NULL,
    flatten INTEGER NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    acked_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX control_pending ON control(task_id, acked_ms);
CREATE TABLE task_live (
    task_id TEXT PRIMARY KEY,
    updated_ms BIGINT NOT NULL,
    data TEXT NOT NULL
);
"""

_V1_FUNCTIONS = r"""
CREATE FUNCTION arb_now_ms() RETURNS bigint LANGUAGE sql STABLE AS
$$ SELECT floor(extract(epoch FROM now()) * 1000)::bigint $$;

CREATE FUNCTION arb_heartbeat(owner text, ids text[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH held AS (
        SELECT t.task_id FROM tasks t WHERE t.owner_id = owner AND t.task_id = ANY(ids)
        ORDER BY t.task_id FOR UPDATE)
    UPDATE tasks t SET heartbeat_ms = arb_now_ms() FROM held WHERE t.task_id = held.task_id
    RETURNING t.task_id;
END $$;

CREATE FUNCTION arb_put_live(ids text[], ts bigint, data text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO task_live (task_id, updated_ms, data)
    SELECT i, ts, d FROM unnest(ids, data) AS u(i, d) ORDER BY i
    ON CONFLICT (task_id) DO UPDATE SET updated_ms = excluded.updated_ms, data = excluded.data;
END $$;

CREATE FUNCTION arb_commit_steps(steps jsonb, durable boolean) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s jsonb;
    v bigint;
    tid text;
    ts bigint;
    results jsonb := '[]'::jsonb;
BEGIN
    IF NOT durable THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    FOR s IN SELECT value FROM jsonb_array_elements(steps) LOOP
        tid := s->>'t';
        ts := (s->>'ts')::bigint;
        BEGIN
            UPDATE tasks SET state = s->>'st', state_entered_ms = (s->>'se')::bigint, context = s->>'cx',
                   updated_ms = ts, version = version + 1, pnl = COALESCE(s->>'pn', pnl),
                   status = COALESCE(s->>'su', status), last_error = COALESCE(s->>'le', last_error)
             WHERE task_id = tid AND owner_id = s->>'o'
            RETURNING version INTO v;
            IF NOT FOUND THEN
                results := results || jsonb_build_array(jsonb_build_array('fenced'));
                CONTINUE;
            END IF;
            IF s ? 'j' THEN
                INSERT INTO transitions (task_id, version, ts_ms, src, dst, trigger, reason)
                VALUES (tid, v, (s->'j'->>'ts')::bigint, s->'j'->>'src', s->'j'->>'dst', s->'j'->>'tr',
                        s->'j'->>'re');
            END IF;
            IF s ? 'ni' THEN
                INSERT INTO order_intents (client_order_id, task_id, seq, status, updated_ms, data)
                SELECT x.c, tid, x.q, x.s, ts, x.d
                  FROM jsonb_to_recordset(s->'ni') AS x(c text, q bigint, s text, d text);
            END IF;
            IF s ? 'iu' THEN
                UPDATE order_intents o SET status = x.s, updated_ms = ts, data = x.d
                  FROM jsonb_to_recordset(s->'iu') AS x(c text, s text, d text)
                 WHERE o.client_order_id = x.c AND o.task_id = tid;
            END IF;
            IF s ? 'fi' THEN
                INSERT INTO fills (task_id, venue, trade_id, client_order_id, ts_ms, data)
                SELECT tid, e.x->>'v', e.x->>'i', e.x->>'c', (e.x->>'ts')::bigint, e.x->>'d'
                  FROM jsonb_array_elements(s->'fi') WITH ORDINALITY AS e(x, n)
                 ORDER BY e.n
                ON CONFLICT DO NOTHING;
            END IF;
            IF s ? 'fu' THEN
                INSERT INTO funding (task_id, venue, ts_ms, data)
                SELECT tid, x.v, x.ts, x.d FROM jsonb_to_recordset(s->'fu') AS x(v text, ts bigint, d text)
                ON CONFLICT DO NOTHING;
            END IF;
            IF s ? 'ak' THEN
                UPDATE control SET acked_ms = ts
                 WHERE task_id = tid AND id IN (SELECT value::bigint FROM jsonb_array_elements_text(s->'ak'));
            END IF;
            results := results || jsonb_build_array(jsonb_build_array('ok', v));
        EXCEPTION
            WHEN deadlock_detected OR serialization_failure OR lock_not_available THEN
                RAISE;  -- the whole group is retried by the store
            WHEN OTHERS THEN
                results := results || jsonb_build_array(jsonb_build_array('error', SQLSTATE, SQLERRM));
        END;
    END LOOP;
    RETURN results;
END $$;
"""

_V3 = """
ALTER TABLE tasks ADD COLUMN duration_s DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN started_ms BIGINT NOT NULL DEFAULT 0;
"""

#: one script per version, as state.schema.MIGRATIONS (each run as ONE simple-protocol query)
PG_MIGRATIONS: list[str] = [
    _V1_TABLES + _V1_FUNCTIONS,
    HISTORY_MIGRATION,  # v2: sampled telemetry for charts (state/pg/history.py)
    _V3,  # v3: tasks.duration_s, started_ms (workers)
]
#: the version a database has after every script ran (equal to state.schema.SCHEMA_VERSION)
PG_SCHEMA_VERSION = len(PG_MIGRATIONS)

__all__ = ["PG_MIGRATIONS", "PG_SCHEMA_VERSION"]
