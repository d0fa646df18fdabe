"""SQLite schema. Bump SCHEMA_VERSION and add a migration when it changes."""
from __future__ import annotations

# 1: runs, tasks, samples, scores, evaluations, reference timings
# 2: run progress (PROGRESS_DDL below)
# 3: training runs (TRAINING_DDL below)
SCHEMA_VERSION = 3

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


# -- training runs (schema version 3) -----------------------------------------------
# A training run (batch TTT or SDPO) samples and evaluates its tasks at every
# step as an ordinary run (kind 'search'), so its samples open in every view
# of a run; these tables link those runs to the training run and keep what
# the update needs (exact token ids) and what it did (rewards, advantages,
# loss, probe scores).
TRAINING_DDL = [
    """CREATE TABLE IF NOT EXISTS training_runs (
        id INTEGER PRIMARY KEY,
        name TEXT,
        method TEXT NOT NULL,                     -- 'ttt', 'sdpo', 'sdpo-prompt-only'
        status TEXT NOT NULL,                     -- created, running, finished, interrupted, failed
        backend TEXT,
        model TEXT,
        k INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        config_json TEXT NOT NULL,                -- everything needed to resume
        provenance_json TEXT NOT NULL,
        summary_json TEXT,                        -- best-of-adaptation, written when the run ends
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT,
        pid INTEGER,
        host TEXT,
        error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS training_steps (
        training_run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,                    -- 0: the starting weights, s: after s updates
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,   -- the step's samples
        checkpoint TEXT NOT NULL,                 -- the weights that sampled: adapter folder or tinker:// path
        status TEXT NOT NULL,                     -- sampling, evaluated, updated (the next step's weights exist)
        reward_state_json TEXT,                   -- running medians after this step's rewards
        metrics_json TEXT NOT NULL DEFAULT '{}',  -- probe, diversity, update (loss, ratio), timings
        started_at TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (training_run_id, step)
    )""",
    """CREATE TABLE IF NOT EXISTS training_samples (
        sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
        training_run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        token_ids_json TEXT NOT NULL,             -- the exact sampled tokens (stop token excluded)
        correct INTEGER,                          -- the outcome the reward saw (evaluated or injected)
        speedup REAL,
        injected INTEGER NOT NULL DEFAULT 0,
        reward REAL,
        baseline REAL,                            -- the running median the speedup was divided by
        advantage REAL                            -- TTT: the sample's; SDPO: the mean over its tokens
    )""",
    """CREATE TABLE IF NOT EXISTS training_probe_scores (
        training_run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,   -- a sample of the probe run
        n_tokens INTEGER NOT NULL,
        surprisal REAL NOT NULL,
        mean_nll REAL,
        PRIMARY KEY (training_run_id, step, sample_id)
    )""",
    "CREATE INDEX IF NOT EXISTS training_samples_step ON training_samples(training_run_id, step)",
]
DDL += TRAINING_DDL
MIGRATIONS[3] = TRAINING_DDL
# -- end of training runs ------------------------------------------------------
