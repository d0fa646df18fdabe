"""SQLite schema. Bump SCHEMA_VERSION and add a migration when it changes."""
from __future__ import annotations

SCHEMA_VERSION = 2

# Plain DDL rather than sqlite-utils' create(): the unique constraints and
# partial indexes are what make resume idempotent, so they are spelled out.
DDL = [
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER NOT NULL,
        applied_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        name TEXT,
        kind TEXT NOT NULL DEFAULT 'search',      -- 'search' (model samples) or 'replay' (imported)
        status TEXT NOT NULL,                     -- created, running, finished, interrupted, failed
        backend TEXT,
        model TEXT,
        k INTEGER NOT NULL,
        prompt_style TEXT,
        rank_by TEXT NOT NULL DEFAULT 'surprisal',
        logprob_mode TEXT,
        config_json TEXT NOT NULL,                -- everything needed to resume
        provenance_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT,                        -- a running process refreshes this
        pid INTEGER,
        host TEXT,
        error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,                      -- 'L1/19', 'builtin/relu'
        source TEXT NOT NULL,
        level INTEGER,
        problem_id INTEGER,
        name TEXT NOT NULL,
        reference_hash TEXT NOT NULL,
        reference_src TEXT NOT NULL,
        path TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS run_tasks (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        position INTEGER NOT NULL,
        reference_hash TEXT NOT NULL,             -- the revision this run used
        PRIMARY KEY (run_id, task_id)
    )""",
    """CREATE TABLE IF NOT EXISTS samples (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        sample_idx INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        raw_text TEXT NOT NULL,
        code TEXT,                                -- module source to evaluate (None: no code)
        code_kind TEXT,                           -- torch, cuda, triton
        code_start INTEGER,                       -- span of the extracted code in raw_text
        code_end INTEGER,
        extraction_error TEXT,
        n_tokens INTEGER,
        surprisal REAL,                           -- -sum logprob, generating model, raw mode
        mean_nll REAL,                            -- surprisal / n_tokens
        finish_reason TEXT,
        latency_s REAL,
        prompt_tokens INTEGER,
        note TEXT,
        UNIQUE (run_id, task_id, sample_idx)
    )""",
    """CREATE TABLE IF NOT EXISTS sample_scores (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        scorer TEXT NOT NULL,                     -- 'generator' or 'backend/model[@checkpoint]'
        logprob_mode TEXT NOT NULL,
        n_tokens INTEGER NOT NULL,
        surprisal REAL NOT NULL,
        mean_nll REAL,
        code_surprisal REAL,                      -- the part inside the extracted code span
        tokens_json TEXT NOT NULL,
        logprobs_json TEXT NOT NULL,
        offsets_json TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (sample_id, scorer)
    )""",
    """CREATE TABLE IF NOT EXISTS evaluations (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL UNIQUE REFERENCES samples(id) ON DELETE CASCADE,
        run_id INTEGER NOT NULL,
        task_id TEXT NOT NULL,
        state TEXT NOT NULL,                      -- running, done
        outcome TEXT,
        correct INTEGER,
        speedup REAL,
        speedup_lo REAL,
        speedup_hi REAL,
        candidate_ms REAL,
        candidate_iqr_ms REAL,
        reference_ms REAL,
        max_abs_diff REAL,
        error TEXT,
        hardware TEXT,
        flags_json TEXT,
        result_json TEXT,
        started_at TEXT,
        finished_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS reference_timings (
        key TEXT PRIMARY KEY,
        value_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS samples_run_task ON samples(run_id, task_id)",
    "CREATE INDEX IF NOT EXISTS evaluations_run_task ON evaluations(run_id, task_id)",
    "CREATE INDEX IF NOT EXISTS scores_sample ON sample_scores(sample_id)",
]


# -- run progress (schema version 2) ----------------------------------------
# What a run's process is doing between the rows above (loading a model,
# generating a long sample), so that a reader in another process can show it.
# One row per run, overwritten in place. Additive: a version-1 database gains
# the table when it is opened (CREATE ... IF NOT EXISTS) and is marked version 2.
PROGRESS_DDL = [
    """CREATE TABLE IF NOT EXISTS run_progress (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        phase TEXT NOT NULL,                      -- launching, loading_model, generating, failed_to_start
        detail TEXT,                              -- one line: the model being loaded, an error
        task_id TEXT,                             -- the task being sampled
        samples_done INTEGER,                     -- of that task
        samples_total INTEGER,
        tokens INTEGER,                           -- tokens of the sample in flight (from a backend callback)
        tokens_total INTEGER,                     -- tokens generated in this session
        generating_s REAL,                        -- seconds spent generating in this session
        earlier_s REAL NOT NULL DEFAULT 0,        -- seconds the run ran before its latest (re)start
        pid INTEGER,                              -- the process writing this row
        host TEXT,
        log_path TEXT,                            -- where a detached run writes its output
        phase_started_at TEXT,
        updated_at TEXT NOT NULL
    )""",
]
DDL += PROGRESS_DDL
# statements that bring a database of the version before each key up to it
MIGRATIONS = {2: PROGRESS_DDL}
# -- end of run progress ------------------------------------------------------
