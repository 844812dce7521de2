"""Every SQL statement of the PostgreSQL state store and the leader lease, in one place.

Tables are prefixed `liverecd_` so the schema can share a database. Time that matters to the
lease is the database's (`clock_timestamp()`, not `now()`, which is frozen at the start of a
transaction): members' wall clocks never decide who is active.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# Forward migrations: MIGRATIONS[v] takes a schema at version v to v + 1. Each runs in the same
# transaction as the version bump, so a crash mid-migration leaves the old version intact.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE liverecd_lease (
        cluster TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE liverecd_recordings (
        cluster TEXT NOT NULL, window_id TEXT NOT NULL,
        domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
        start_at TIMESTAMPTZ NOT NULL, end_at TIMESTAMPTZ NOT NULL,
        finalize TEXT NOT NULL, delay_s DOUBLE PRECISION NOT NULL,
        phase TEXT NOT NULL, last_command TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ, stopped_at TIMESTAMPTZ,
        epoch BIGINT NOT NULL,
        PRIMARY KEY (cluster, window_id)
    );
    CREATE TABLE liverecd_members (
        cluster TEXT NOT NULL, member TEXT NOT NULL,
        digest TEXT NOT NULL, role TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (cluster, member)
    );
    """,
    # 2: verification (DESIGN §8) shared too, so a takeover resumes the checks the old active
    # owed. Instants in the same fixed-width form as the SQLite store's (timestamptz here).
    """
    CREATE TABLE liverecd_verifications (
        cluster TEXT NOT NULL, window_id TEXT NOT NULL,
        domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
        start_at TIMESTAMPTZ NOT NULL, end_at TIMESTAMPTZ NOT NULL, result TEXT NOT NULL,
        coverage DOUBLE PRECISION, gaps TEXT NOT NULL, files TEXT NOT NULL,
        due TIMESTAMPTZ NOT NULL, first_due TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL,
        error TEXT, epoch BIGINT NOT NULL,
        PRIMARY KEY (cluster, window_id)
    );
    CREATE INDEX liverecd_verifications_end ON liverecd_verifications (cluster, end_at);
    CREATE TABLE liverecd_record_files (
        cluster TEXT NOT NULL, uri TEXT NOT NULL,
        domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,
        start_at TIMESTAMPTZ NOT NULL, end_at TIMESTAMPTZ NOT NULL,
        duration DOUBLE PRECISION NOT NULL, epoch BIGINT NOT NULL,
        PRIMARY KEY (cluster, uri)
    );
    CREATE INDEX liverecd_record_files_stream
        ON liverecd_record_files (cluster, domain, app, stream, start_at);
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION

# Serialises concurrent first starts: two members creating the schema at once would collide.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('liverecd_schema'))"
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS liverecd_schema (version INTEGER NOT NULL)"
READ_VERSION = "SELECT max(version) FROM liverecd_schema"
WRITE_VERSION = "INSERT INTO liverecd_schema (version) VALUES (%s)"

# -- lease --------------------------------------------------------------------------------------

# Take the lease when nobody holds it or its holder let it expire; a takeover bumps the epoch
# (the fencing token). Returns the new epoch, or no row when the lease is held by someone else.
ACQUIRE = """
INSERT INTO liverecd_lease AS l (cluster, holder, epoch, expires_at)
VALUES (%(cluster)s, %(holder)s, 1, clock_timestamp() + %(lease)s * interval '1 second')
ON CONFLICT (cluster) DO UPDATE
   SET holder = EXCLUDED.holder, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
 WHERE l.expires_at < clock_timestamp()
RETURNING epoch
"""
# Renewal needs only the epoch unchanged, not the lease unexpired: an unchanged epoch proves
# nobody took over, so a holder that could not reach the database for a while (and held its
# commands meanwhile) may carry on where it stopped.
RENEW = """
UPDATE liverecd_lease SET expires_at = clock_timestamp() + %(lease)s * interval '1 second'
 WHERE cluster = %(cluster)s AND holder = %(holder)s AND epoch = %(epoch)s
RETURNING epoch
"""
RELEASE = """
UPDATE liverecd_lease SET expires_at = clock_timestamp() - interval '1 second'
 WHERE cluster = %(cluster)s AND holder = %(holder)s AND epoch = %(epoch)s
"""
HOLDER = "SELECT holder, epoch FROM liverecd_lease WHERE cluster = %(cluster)s"

# -- members ------------------------------------------------------------------------------------

SEEN = """
INSERT INTO liverecd_members (cluster, member, digest, role, seen_at)
VALUES (%(cluster)s, %(member)s, %(digest)s, %(role)s, clock_timestamp())
ON CONFLICT (cluster, member) DO UPDATE
   SET digest = EXCLUDED.digest, role = EXCLUDED.role, seen_at = EXCLUDED.seen_at
"""
# Members heard from within `fresh` seconds, and members silent for an hour are forgotten.
MEMBERS = """
SELECT member, digest, role FROM liverecd_members
 WHERE cluster = %(cluster)s AND seen_at > clock_timestamp() - %(fresh)s * interval '1 second'
 ORDER BY member
"""
FORGET = """
DELETE FROM liverecd_members
 WHERE cluster = %(cluster)s AND seen_at < clock_timestamp() - interval '1 hour'
"""

# -- recordings ---------------------------------------------------------------------------------

# Every write first takes the lease row FOR SHARE, holding the epoch still: a takeover (an
# UPDATE of that row) waits for the write to commit, and a write by a superseded holder finds
# no row and is refused. That is what makes the epoch a fencing token for the state.
FENCE = """
SELECT 1 FROM liverecd_lease
 WHERE cluster = %(cluster)s AND holder = %(holder)s AND epoch = %(epoch)s
 FOR SHARE
"""
_RECORDINGS = """
SELECT window_id, domain, app, stream, start_at, end_at, finalize, delay_s, phase, last_command,
       updated_at, started_at, stopped_at
  FROM liverecd_recordings WHERE cluster = %s"""
SELECT = _RECORDINGS + " ORDER BY window_id"
SELECT_STREAM = _RECORDINGS + " AND domain = %s AND app = %s AND stream = %s ORDER BY window_id"
# Windows overlapping a range: (until, since).
SELECT_BETWEEN = _RECORDINGS + " AND start_at < %s AND end_at > %s ORDER BY window_id"
UPSERT = """
INSERT INTO liverecd_recordings (cluster, window_id, domain, app, stream, start_at, end_at,
    finalize, delay_s, phase, last_command, updated_at, started_at, stopped_at, epoch)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (cluster, window_id) DO UPDATE SET
    domain = EXCLUDED.domain, app = EXCLUDED.app, stream = EXCLUDED.stream,
    start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at, finalize = EXCLUDED.finalize,
    delay_s = EXCLUDED.delay_s, phase = EXCLUDED.phase, last_command = EXCLUDED.last_command,
    updated_at = EXCLUDED.updated_at, started_at = EXCLUDED.started_at,
    stopped_at = EXCLUDED.stopped_at, epoch = EXCLUDED.epoch
"""
DELETE = "DELETE FROM liverecd_recordings WHERE cluster = %s AND window_id = %s"

# -- verification -------------------------------------------------------------------------------

VERIFY_SELECT = """
SELECT window_id, domain, app, stream, start_at, end_at, result, coverage, gaps, files, due,
       first_due, attempts, error
  FROM liverecd_verifications WHERE cluster = %s"""
VERIFY_ONE = VERIFY_SELECT + " AND window_id = %s"
VERIFY_ENDED = VERIFY_SELECT + " AND end_at >= %s AND end_at <= %s ORDER BY end_at, window_id"
VERIFY_PENDING = VERIFY_SELECT + " AND result = %s ORDER BY due"
VERIFY_UPSERT = """
INSERT INTO liverecd_verifications (cluster, window_id, domain, app, stream, start_at, end_at,
    result, coverage, gaps, files, due, first_due, attempts, error, epoch)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (cluster, window_id) DO UPDATE SET
    domain = EXCLUDED.domain, app = EXCLUDED.app, stream = EXCLUDED.stream,
    start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at, result = EXCLUDED.result,
    coverage = EXCLUDED.coverage, gaps = EXCLUDED.gaps, files = EXCLUDED.files,
    due = EXCLUDED.due, first_due = EXCLUDED.first_due, attempts = EXCLUDED.attempts,
    error = EXCLUDED.error, epoch = EXCLUDED.epoch
"""
FILE_INSERT = """
INSERT INTO liverecd_record_files (cluster, uri, domain, app, stream, start_at, end_at, duration,
    epoch)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (cluster, uri) DO NOTHING
"""
FILES = """
SELECT uri, start_at, end_at, duration FROM liverecd_record_files
 WHERE cluster = %s AND domain = %s AND app = %s AND stream = %s AND start_at < %s AND end_at > %s
"""
