"""The variant's SQLite database: posts and their version, the outbox in the post's transaction, names."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from sandbox.live.store import Database


@pytest.fixture
def db(tmp_path):
    store = Database(tmp_path / "lab.sqlite3")
    yield store
    store.close()


def test_the_database_is_in_wal_mode(db):
    assert db._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_insert_returns_the_post_and_the_version_it_made(db):
    assert db.version() == 0
    post, version = db.insert_post(7, "Hello", "first")
    assert (post.id, post.author_id, post.title, post.body, version) == (1, 7, "Hello", "first", 1)
    _, version = db.insert_post(8, "Again", "second")
    assert version == 2 == db.version()


def test_the_commit_time_of_a_version_is_its_post_s(db):
    post, version = db.insert_post(1, "t", "b")
    assert db.commit_time(version) == post.created_at
    assert db.commit_time(version + 1) is None


def test_the_page_is_newest_first_with_its_version(db):
    for i in range(5):
        db.insert_post(i + 1, f"t{i}", "b")
    posts, version = db.page(limit=3)
    assert [p.title for p in posts] == ["t4", "t3", "t2"]
    assert version == 5
    assert [p.id for p in db.page()[0]] == [5, 4, 3, 2, 1]


def test_the_outbox_row_commits_with_the_post(db):
    db.insert_post(1, "t", "b", outbox_body=b"first")
    db.insert_post(1, "t", "b")
    db.insert_post(1, "t", "b", outbox_body=b"second")
    rows = db.unsent()
    assert [r.body for r in rows] == [b"first", b"second"]
    assert db.outbox_pending() == 2
    db.mark_sent(rows[0].id)
    assert [r.body for r in db.unsent()] == [b"second"]


def test_a_failed_transaction_leaves_neither_the_post_nor_its_outbox_row(db):
    with pytest.raises(sqlite3.Error):
        db.insert_post(1, "t", "b", outbox_body=object())  # not storable: rolled back
    assert db.version() == 0
    assert db.outbox_pending() == 0


def test_another_process_sees_the_same_file(tmp_path, db):
    db.insert_post(1, "t", "b")
    other = Database(db.path)
    try:
        assert other.version() == 1
    finally:
        other.close()


def test_each_thread_writes_through_its_own_connection(db):
    errors = []

    def write(n: int) -> None:
        try:
            for _ in range(20):
                db.insert_post(n, "t", "b")
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.version() == 80
    assert len(db._connections) == 5  # the fixture's thread and four writers


def test_user_names_default_until_renamed(db):
    assert db.user_name(3) == "Author 3"
    db.set_user_name(3, "Ada")
    db.set_user_name(3, "Ada L.")
    assert db.user_name(3) == "Ada L."


def test_the_directory_knows_renamed_authors_and_defaults_the_rest(db):
    db.set_directory_name(2, "Grace")
    assert db.directory_names([1, 2, 2]) == {1: "Author 1", 2: "Grace"}
    assert db.directory_names([]) == {}
