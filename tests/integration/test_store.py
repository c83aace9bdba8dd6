"""accord.store on both backends: transactions, blobs, migrations, errors, threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.errors import ConflictError, StoreError, UsageError
from accord.store import Database, Step, applied_steps

STEPS = (
    Step("0001-things", ("CREATE TABLE things (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",)),
    Step("0002-names", ("CREATE TABLE names (name TEXT PRIMARY KEY, n INTEGER NOT NULL)",)),
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    with Database.open(db_url) as database:
        database.migrate("test", STEPS)
        yield database


def test_dialect_and_sqlite_settings(db: Database) -> None:
    assert db.dialect in ("sqlite", "postgresql")
    if db.dialect == "sqlite":
        assert db.fetchone("PRAGMA journal_mode") == ("wal",)
        assert db.fetchone("PRAGMA synchronous") == (2,)  # FULL
        assert db.fetchone("PRAGMA busy_timeout") == (30000,)


def test_commit_and_blobs_come_back_as_bytes(db: Database) -> None:
    big = bytes(range(256)) * 100
    with db.transaction() as tx:
        assert tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"\x00abc")) == 1
        tx.executemany("INSERT INTO things (id, body) VALUES (?, ?)", [(2, big), (3, b"")])
    rows = db.fetchall("SELECT id, body FROM things ORDER BY id")
    assert rows == [(1, b"\x00abc"), (2, big), (3, b"")]
    assert all(type(body) is bytes for _, body in rows)
    with db.transaction(readonly=True) as tx:
        assert tx.fetchone("SELECT body FROM things WHERE id = ?", (1,)) == (b"\x00abc",)
        assert tx.fetchone("SELECT body FROM things WHERE id = ?", (9,)) is None


def test_integers_are_64_bit(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO names (name, n) VALUES (?, ?)", ("big", 2**62))
    assert db.fetchone("SELECT n FROM names WHERE name = ?", ("big",)) == (2**62,)


def test_rollback_on_exception(db: Database) -> None:
    class Boom(Exception):
        pass

    def insert_then_fail() -> None:
        with db.transaction() as tx:
            tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"x"))
            raise Boom

    with pytest.raises(Boom):
        insert_then_fail()
    assert db.fetchall("SELECT id FROM things") == []
    # The connection went back to the pool in a usable state.
    with db.transaction() as tx:
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"x"))
    assert db.fetchall("SELECT id FROM things") == [(1,)]


def test_unique_violation_is_conflict_and_rolls_back(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"x"))

    def insert_two() -> None:
        with db.transaction() as tx:
            tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (2, b"y"))
            tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"z"))

    with pytest.raises(ConflictError):
        insert_two()
    assert db.fetchall("SELECT id, body FROM things") == [(1, b"x")]


@pytest.mark.parametrize(
    ("mutation", "sql"),
    [
        ("syntax error", "SELEC 1"),
        ("missing table", "SELECT * FROM no_such_table"),
        ("not null violated", "INSERT INTO things (id, body) VALUES (5, NULL)"),
    ],
)
def test_driver_errors_become_store_errors(db: Database, mutation: str, sql: str) -> None:
    with pytest.raises(StoreError) as info, db.transaction() as tx:
        tx.execute(sql)
    assert info.value.retryable
    assert db.fetchone("SELECT 1") == (1,)


def test_readonly_transaction_refuses_writes(db: Database) -> None:
    with pytest.raises(StoreError), db.transaction(readonly=True) as tx:
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"x"))
    assert db.fetchall("SELECT id FROM things") == []


def test_migrations_are_recorded_and_idempotent(db_url: str) -> None:
    with Database.open(db_url) as db:
        assert applied_steps(db, "test") == []
        assert db.migrate("test", STEPS[:1]) == ["0001-things"]
        assert db.migrate("test", STEPS[:1]) == []
        assert db.migrate("test", STEPS) == ["0002-names"]
        assert db.migrate("test", STEPS) == []
        assert applied_steps(db, "test") == ["0001-things", "0002-names"]
        assert applied_steps(db, "other") == []


def test_migrations_refuse_unknown_history(db: Database) -> None:
    renamed = (Step("0001-other", ("SELECT 1",)), *STEPS[1:])
    with pytest.raises(UsageError):
        db.migrate("test", renamed)
    with pytest.raises(UsageError):
        db.migrate("test", STEPS[1:])


def test_failed_step_applies_nothing(db_url: str) -> None:
    bad = (
        Step("0001-ok", ("CREATE TABLE ok_t (a INTEGER)",)),
        Step("0002-bad", ("CREATE TABLE broken (",)),
    )
    with Database.open(db_url) as db:
        with pytest.raises(StoreError):
            db.migrate("bad", bad)
        assert applied_steps(db, "bad") == []
        assert db.migrate("bad", bad[:1]) == ["0001-ok"]


def test_migrations_race_between_databases(db_url: str) -> None:
    """Several handles (as several processes would) migrate at once: each step runs once."""
    handles = [Database.open(db_url) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(handles))

    def run(db: Database) -> None:
        barrier.wait()
        try:
            results.append(db.migrate("race", STEPS))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for h in handles:
        h.close()
    assert errors == []
    assert sorted(map(tuple, results)) == [(), (), (), ("0001-things", "0002-names")]


def test_threads_share_one_database(db: Database) -> None:
    def work(k: int) -> None:
        for i in range(20):
            with db.transaction() as tx:
                tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (k * 100 + i, b"t"))
            assert db.fetchone("SELECT body FROM things WHERE id = ?", (k * 100 + i,)) == (b"t",)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.fetchone("SELECT COUNT(*) FROM things") == (120,)


def test_closed_database_is_usage_error(db_url: str) -> None:
    db = Database.open(db_url)
    db.close()
    assert db.closed
    with pytest.raises(UsageError):
        db.fetchone("SELECT 1")


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Database.open(str(tmp_path / "missing-dir" / "x.db"))
    with pytest.raises(UsageError):
        Database.open(str(tmp_path / "x.db"), synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        Database.open("postgresql://nobody@127.0.0.1:1/none")


def test_synchronous_normal_option(tmp_path: Path) -> None:
    with Database.open(f"sqlite://{tmp_path / 'n.db'}", synchronous="NORMAL") as db:
        assert db.fetchone("PRAGMA synchronous") == (1,)


def test_sqlite_file_is_not_corrupted_by_raw_access(tmp_path: Path) -> None:
    path = tmp_path / "raw.db"
    with Database.open(str(path)) as db:
        db.migrate("test", STEPS)
        with db.transaction() as tx:
            tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (7, b"seven"))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT body FROM things").fetchall() == [(b"seven",)]
    finally:
        conn.close()


def test_tx_is_unusable_after_its_block(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (1, b"x"))
    with pytest.raises(UsageError):
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (2, b"y"))
    assert db.fetchall("SELECT id FROM things") == [(1,)]


# -- executemany sent as multi-row INSERTs on SQLite (accord.store.multirow) --------------


@pytest.mark.parametrize("count", [1, 2, 255, 256, 257, 700])
def test_executemany_stores_exactly_the_rows_given(db: Database, count: int) -> None:
    rows = [(i, bytes([i % 256]) * (i % 7)) for i in range(count)]
    with db.transaction() as tx:
        assert tx.executemany("INSERT INTO things (id, body) VALUES (?, ?)", iter(rows)) == count
    assert db.fetchall("SELECT id, body FROM things ORDER BY id") == rows


def test_executemany_upserts_apply_in_row_order(db: Database) -> None:
    sql = (
        "INSERT INTO names (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = excluded.n"
    )
    with db.transaction() as tx:
        tx.executemany(sql, [("a", 1), ("b", 2)])
    with db.transaction() as tx:
        tx.executemany(sql, [("b", 20), ("c", 30)])
    # One key twice: the later row wins on both (PostgreSQL would refuse one key twice in
    # one DO UPDATE statement; there executemany sends a statement per row).
    with db.transaction() as tx:
        tx.executemany(sql, [("a", 10), ("a", 11), ("d", 4)])
    skip = "INSERT INTO names (name, n) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
    with db.transaction() as tx:  # the rows changed: e only (c is kept, e twice is once)
        assert tx.executemany(skip, [("c", 99), ("e", 5), ("e", 6)]) == 1
    got = dict(db.fetchall("SELECT name, n FROM names"))
    assert got == {"a": 11, "b": 20, "c": 30, "d": 4, "e": 5}


def test_executemany_with_a_conflicting_row_stores_nothing(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute("INSERT INTO things (id, body) VALUES (?, ?)", (500, b"x"))
    rows = [(i, b"") for i in range(1_000)]  # row 500 is taken
    with pytest.raises(ConflictError), db.transaction() as tx:
        tx.executemany("INSERT INTO things (id, body) VALUES (?, ?)", rows)
    assert db.fetchall("SELECT id FROM things") == [(500,)]


def test_executemany_with_a_wrong_row_length_is_a_store_error(db: Database) -> None:
    with pytest.raises(StoreError), db.transaction() as tx:
        tx.executemany("INSERT INTO things (id, body) VALUES (?, ?)", [(1, b""), (2,)])
    assert db.fetchall("SELECT id FROM things") == []


def test_writer_threads_take_turns_without_lock_errors(tmp_path: Path) -> None:
    """Eight threads write at once (one urgent): every transaction commits, none fails on
    SQLite's lock (the writer gate queues them), and the totals add up."""
    with Database.open(str(tmp_path / "gate.db"), busy_timeout_ms=60_000) as db:
        db.migrate("test", STEPS)
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(40):
                    with db.transaction(urgent=n == 0) as tx:
                        tx.executemany(
                            "INSERT INTO things (id, body) VALUES (?, ?)",
                            [(n * 100_000 + i * 10 + k, b"") for k in range(10)],
                        )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert db.fetchone("SELECT count(*) FROM things") == (8 * 40 * 10,)
