"""The store's group commit: replies prepared in one event-loop turn share one commit, and none
returns before its writes are on disk (read back through a second connection)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sim.live.store import LiveStore, StoreError


def _frames_on_disk(path: Path) -> int:
    """Frames another connection sees: only committed rows."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
    finally:
        db.close()


def test_replies_of_one_loop_turn_share_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    seen_on_disk: list[int] = []

    async def reply(store: LiveStore, k: int) -> None:
        store.record_frame(float(k), f"CP{k}", "out", f'[3,"{k}",{{}}]')
        await store.durable()
        seen_on_disk.append(_frames_on_disk(path))

    async def main() -> int:
        with LiveStore(path) as store:
            before = store.n_commits
            await asyncio.gather(*(reply(store, k) for k in range(50)))
            return store.n_commits - before

    commits = asyncio.run(main())
    assert commits == 1
    assert seen_on_disk == [50] * 50  # every caller returned after all 50 were durable


def test_durable_with_nothing_pending_returns_at_once(tmp_path: Path) -> None:
    async def main() -> int:
        with LiveStore(tmp_path / "store.sqlite") as store:
            store.commit()
            before = store.n_commits
            await store.durable()
            return store.n_commits - before

    assert asyncio.run(main()) == 0


def test_writes_after_a_commit_join_the_next_group(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"

    async def main() -> tuple[list[int], int]:
        with LiveStore(path) as store:
            store.record_frame(0.0, "CP1", "in", "[2]")
            await store.durable()
            first = _frames_on_disk(path)
            before = store.n_commits
            store.record_frame(1.0, "CP1", "in", "[2]")
            store.commit_soon()  # scheduled, not yet written: nothing on the loop touches SQLite
            pending = _frames_on_disk(path)
            await store.durable()  # joins the commit commit_soon scheduled
            return [first, pending, _frames_on_disk(path)], store.n_commits - before

    on_disk, commits = asyncio.run(main())
    assert on_disk == [1, 1, 2] and commits == 1


def test_readers_see_what_is_recorded_but_not_yet_committed(tmp_path: Path) -> None:
    with LiveStore(tmp_path / "store.sqlite") as store:
        store.record_frame(0.0, "CP1", "in", "[2]")
        decision_id = store.record_decision(0.0, "shadow", {}, [("CP1", 6.0, 5.5)])
        assert store.frames("CP1") == [("CP1", "in", "[2]")]
        assert store.setpoints() == [(decision_id, "CP1", 6.0, 5.5)]


def test_ids_continue_after_a_restart(tmp_path: Path) -> None:
    """Decision and command ids are handed out before their rows are written; a reopened store
    continues after the largest one on disk."""
    path = tmp_path / "store.sqlite"
    with LiveStore(path) as store:
        first = [store.record_decision(0.0, "active", {}, []), store.record_command(0.0, "CP1", "X", {})]
    with LiveStore(path) as store:
        second = [store.record_decision(1.0, "active", {}, []), store.record_command(1.0, "CP1", "X", {})]
        store.record_outcome(second[1], 2.0, "accepted", None)
        assert [c["outcome"] for c in store.commands()] == [None, "accepted"]
    assert first == [1, 1] and second == [2, 2]


def test_a_failed_group_commit_raises_in_every_waiter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit that fails (disk full, I/O error) reaches every reply waiting for it as a StoreError,
    so none of them is sent."""
    def disk_full() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    async def main() -> list[BaseException | None]:
        with LiveStore(tmp_path / "store.sqlite") as store:
            store.record_frame(0.0, "CP1", "out", "[3]")
            monkeypatch.setattr(store, "_flush", lambda batch: disk_full())
            results = await asyncio.gather(store.durable(), store.durable(), return_exceptions=True)
            monkeypatch.undo()
            return [r if isinstance(r, BaseException) else None for r in results]

    errors = asyncio.run(main())
    assert all(isinstance(e, StoreError) and "disk is full" in str(e) for e in errors), errors


def test_a_reader_waits_for_a_batch_already_handed_to_the_writer(tmp_path: Path) -> None:
    """A batch given to the writer thread but not yet written is still seen by a reader on the loop."""
    async def main(k: int) -> int:
        with LiveStore(tmp_path / f"store{k}.sqlite") as store:
            store.record_frame(0.0, "CP1", "in", "[2]")
            store.commit_soon()
            await asyncio.sleep(0)  # the group commit starts: the batch is the writer's now
            assert store._last_job is not None  # handed over (the case this test is about)
            return len(store.frames())

    assert [asyncio.run(main(k)) for k in range(20)] == [1] * 20
