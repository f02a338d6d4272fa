"""The live store: one SQLite file (WAL mode) with everything that happened, as it happened.

What goes in: every websocket frame in and out (raw text), every event the handlers produce
(``sim.live.events``, as JSON), every control decision (and how long its tick took) with its setpoints beside the measured
currents, the live load flow's summary at each decision (sites with a feeder), the site's power at
each decision (``site_power``: charging, import, import limit; the API's power history), every command sent to a
charger with its outcome, every operator action (``audit``: who, what, on which target, how it ended;
``sim.live.actions``), and the log lines that explain
fallbacks.

Durability rule (the one the server relies on): an incoming message is recorded and committed
*before* its reply leaves, so a message a charger saw acknowledged survives a crash of this
process (``kill -9``). Writes therefore stay pending only until the next commit: the OCPP layer
awaits ``durable()`` right before it sends a frame.

Group commit, off the event loop: the record methods only append a row to a backlog (no SQLite
call on the loop). ``durable()`` schedules one commit for the end of the event loop's current turn;
every reply prepared in that turn (from any charger) waits for the same commit, which runs on the
store's own writer thread (the INSERTs, then COMMIT and its fsync), so the loop goes on serving
other chargers while the disk works. Under load one fsync serves many messages, and no reply ever
leaves before its commit. Frames that get no reply (a charger's answer to our call) only need
``commit_soon()``: they join the next commit without waiting for it. ``commit()`` flushes at once on
the calling thread (start-up, shutdown, the readers below, which see everything recorded so far).
The connection is used by one thread at a time (a lock); ids the caller needs back (decisions,
commands) are assigned here, not by SQLite, because the row is written later.

On restart, ``events()`` gives the events back in the order they were recorded, to be re-applied
to a new tracker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
import typing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FeedertwinError
from sim.live.events import ChargerConnected, ChargerDisconnected, LiveEvent, SessionStarted

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(LiveEvent)}
"""Every event class by name: the ``kind`` column of the events table."""

SYNCHRONOUS_MODES = ("FULL", "NORMAL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, charger_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')), frame TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, charger_id TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, mode TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS setpoints (
    decision_id INTEGER NOT NULL REFERENCES decisions(id), charger_id TEXT NOT NULL,
    setpoint_a REAL, measured_a REAL);
CREATE TABLE IF NOT EXISTS grid_states (
    decision_id INTEGER NOT NULL REFERENCES decisions(id), vm_min_pu REAL, vm_max_pu REAL,
    max_line_loading_percent REAL, max_trafo_loading_percent REAL, p_import_kw REAL);
CREATE TABLE IF NOT EXISTS tick_times (
    decision_id INTEGER NOT NULL REFERENCES decisions(id), duration_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS site_power (
    decision_id INTEGER NOT NULL REFERENCES decisions(id), t_s REAL NOT NULL, charging_kw REAL,
    import_kw REAL, import_limit_kw REAL);
CREATE INDEX IF NOT EXISTS site_power_by_time ON site_power (t_s);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, charger_id TEXT NOT NULL, action TEXT NOT NULL,
    payload TEXT NOT NULL, outcome TEXT, detail TEXT, outcome_t_s REAL);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, level TEXT NOT NULL, charger_id TEXT,
    message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    parameters TEXT NOT NULL, outcome TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS frames_by_charger ON frames (charger_id, id);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, id);
"""


class StoreError(FeedertwinError):
    """The store file cannot be opened or is not a feedertwin live store."""


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from events, decisions and commands (dataclasses, numpy arrays, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def event_to_json(event: LiveEvent) -> str:
    return json.dumps(to_jsonable(event), separators=(",", ":"))


def event_from_json(kind: str, data: str) -> LiveEvent:
    """The event recorded as ``kind`` and ``data`` (JSON lists come back as the tuples they were)."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise StoreError(f"unknown event kind {kind!r} in the store; expected one of {', '.join(EVENT_TYPES)}")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(data).items()}
    event: LiveEvent = cls(**fields)
    return event


class LiveStore:
    """The SQLite store of one live site. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise StoreError(f"store synchronous mode: got {synchronous!r}; expected one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are opened explicitly, so commit points are ours.
            # check_same_thread=False: the writer thread commits; the lock keeps use one thread at a time.
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._next_id = {table: int(self._db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])
                             for table in ("decisions", "commands", "audit")}
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"store {self.path}: cannot open it as a SQLite database: {error}") from None
        self._backlog: list[tuple[str, tuple[Any, ...]] | tuple[str, list[tuple[Any, ...]]]] = []
        self._lock = threading.Lock()  # one thread at a time on the connection
        self._writer: ThreadPoolExecutor | None = None  # started by the first group commit
        self._last_job: Future[None] | None = None  # the batch handed to the writer last
        self._group: asyncio.Future[None] | None = None  # the commit scheduled for this loop turn
        self.n_commits = 0  # commits that wrote something (group commit shows as n_commits << frames)

    # -- writing (pending until commit) -------------------------------------------------------

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        self._backlog.append((sql, params))

    def _new_id(self, table: str) -> int:
        row_id = self._next_id[table]
        self._next_id[table] = row_id + 1
        return row_id

    @property
    def pending(self) -> bool:
        """Whether anything recorded is not committed yet."""
        return bool(self._backlog)

    def record_frame(self, t_s: float, charger_id: str, direction: str, frame: str | bytes) -> None:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
        self._write("INSERT INTO frames (t_s, charger_id, direction, frame) VALUES (?, ?, ?, ?)",
                    (t_s, charger_id, direction, text))

    def record_event(self, event: LiveEvent) -> None:
        self._write("INSERT INTO events (t_s, charger_id, kind, data) VALUES (?, ?, ?, ?)",
                    (event.t_s, event.charger_id, type(event).__name__, event_to_json(event)))

    def record_decision(self, t_s: float, mode: str, decision: Any,
                        setpoints: Sequence[tuple[str, float | None, float | None]]) -> int:
        """A control decision and, per charger, ``(charger_id, setpoint_a, measured_a)``."""
        decision_id = self._new_id("decisions")
        self._write("INSERT INTO decisions (id, t_s, mode, data) VALUES (?, ?, ?, ?)",
                    (decision_id, t_s, mode, json.dumps(to_jsonable(decision))))
        self._backlog.append(("INSERT INTO setpoints (decision_id, charger_id, setpoint_a, measured_a) "
                              "VALUES (?, ?, ?, ?)", [(decision_id, *row) for row in setpoints]))
        return decision_id

    def record_grid(self, decision_id: int, vm_min_pu: float, vm_max_pu: float, max_line_loading_percent: float,
                    max_trafo_loading_percent: float, p_import_kw: float) -> None:
        """The live load flow's summary at a decision (sites with a ``[grid]``)."""
        self._write("INSERT INTO grid_states VALUES (?, ?, ?, ?, ?, ?)",
                    (decision_id, vm_min_pu, vm_max_pu, max_line_loading_percent, max_trafo_loading_percent,
                     p_import_kw))

    def record_tick_time(self, decision_id: int, duration_s: float) -> None:
        """How long a control tick took (wall clock: load flow, view, decision, records)."""
        self._write("INSERT INTO tick_times VALUES (?, ?)", (decision_id, duration_s))

    def record_site_power(self, decision_id: int, t_s: float, charging_kw: float, import_kw: float,
                          import_limit_kw: float | None) -> None:
        """The site's power at a decision (kW): the measured charging power, the import (the load
        flow's, or base load plus charging) and the import limit then (``None``: the site has none;
        SQLite keeps a NaN as NULL too, so a bad reading never fails the commit)."""
        self._write("INSERT INTO site_power VALUES (?, ?, ?, ?, ?)",
                    (decision_id, t_s, charging_kw, import_kw, import_limit_kw))

    def grid_states(self) -> list[tuple[int, float, float, float, float, float]]:
        return list(self._query("SELECT * FROM grid_states ORDER BY rowid"))

    def record_command(self, t_s: float, charger_id: str, action: str, payload: Any) -> int:
        command_id = self._new_id("commands")
        self._write("INSERT INTO commands (id, t_s, charger_id, action, payload) VALUES (?, ?, ?, ?, ?)",
                    (command_id, t_s, charger_id, action, json.dumps(to_jsonable(payload))))
        return command_id

    def record_outcome(self, command_id: int, t_s: float, outcome: str, detail: str | None) -> None:
        self._write("UPDATE commands SET outcome = ?, detail = ?, outcome_t_s = ? WHERE id = ?",
                    (outcome, detail, t_s, command_id))

    def record_audit(self, t_s: float, who: str, action: str, target: str, parameters: Any) -> int:
        """An operator's action (``sim.live.actions``), before its outcome is known; returns its id."""
        audit_id = self._new_id("audit")
        self._write("INSERT INTO audit (id, t_s, who, action, target, parameters) VALUES (?, ?, ?, ?, ?, ?)",
                    (audit_id, t_s, who, action, target, json.dumps(to_jsonable(parameters))))
        return audit_id

    def record_audit_outcome(self, audit_id: int, outcome: str, detail: str | None) -> None:
        self._write("UPDATE audit SET outcome = ?, detail = ? WHERE id = ?", (outcome, detail, audit_id))

    def record_log(self, t_s: float, level: str, message: str, charger_id: str | None = None) -> None:
        self._write("INSERT INTO log (t_s, level, charger_id, message) VALUES (?, ?, ?, ?)",
                    (t_s, level, charger_id, message))

    def commit(self) -> None:
        """Make everything recorded so far durable now, on this thread (a no-op when nothing is
        pending). Waits for a group commit in flight first: commits keep the recording order."""
        self._wait_for_writer()
        batch, self._backlog = self._backlog, []
        with self._lock:
            self._flush(batch)

    def _wait_for_writer(self) -> None:
        """Block until the batches handed to the writer thread are written (it runs them in order,
        so waiting for the last one is enough; its failure is reported to its group's callers)."""
        job, self._last_job = self._last_job, None
        if job is not None:
            try:
                job.result()
            except Exception:  # noqa: BLE001 - reported through the group commit's future
                pass

    def _flush(self, batch: list[Any]) -> None:
        """Write ``batch`` in one transaction (the caller holds the lock)."""
        if not batch:
            return
        self._db.execute("BEGIN")
        try:
            for sql, params in batch:
                if isinstance(params, list):
                    self._db.executemany(sql, params)
                else:
                    self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self.n_commits += 1

    def _flush_locked(self, batch: list[Any]) -> None:
        with self._lock:
            self._flush(batch)

    async def durable(self) -> None:
        """Return once everything recorded so far is committed, sharing one commit with every
        other caller of this event-loop turn (group commit, on the writer thread). A failed commit
        raises ``StoreError`` here, in every caller, so no reply goes out for writes that are not
        on disk."""
        if not self._backlog and self._group is None:
            return
        group = self._schedule_commit()
        await asyncio.shield(group)  # a cancelled caller must not cancel the others' commit

    def commit_soon(self) -> None:
        """Have what is pending committed at the end of this loop turn, without waiting for it
        (outside an event loop: now)."""
        if not self._backlog:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        self._schedule_commit()

    def _schedule_commit(self) -> asyncio.Future[None]:
        if self._group is None:
            loop = asyncio.get_running_loop()
            self._group = loop.create_future()
            loop.call_soon(self._start_group_commit)
        return self._group

    def _start_group_commit(self) -> None:
        """Hand this turn's backlog to the writer thread; resolve the group when it is on disk."""
        group, self._group = self._group, None  # writes after this point join the next group
        assert group is not None
        batch, self._backlog = self._backlog, []
        if not batch:  # a synchronous commit() took it meanwhile: it is on disk already
            group.set_result(None)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._last_job = self._writer.submit(self._flush_locked, batch)
        done = asyncio.wrap_future(self._last_job)
        done.add_done_callback(lambda finished: self._finish_group(group, finished))

    def _finish_group(self, group: asyncio.Future[None], finished: asyncio.Future[None]) -> None:
        error = finished.exception()
        if error is None:
            group.set_result(None)
            return
        group.set_exception(StoreError(f"store {self.path}: commit failed: {error}"))
        group.exception()  # retrieved here too: nobody may be waiting (commit_soon)

    # -- reading --------------------------------------------------------------------------------
    # Every reader first commits what is pending, so it sees everything recorded so far.

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        self.commit()
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def events(self) -> Iterator[LiveEvent]:
        """Every recorded event, in the order it was recorded."""
        for kind, data in self._query("SELECT kind, data FROM events ORDER BY id"):
            yield event_from_json(kind, data)

    def frames(self, charger_id: str | None = None) -> list[tuple[str, str, str]]:
        """``(charger_id, direction, frame)`` in order, for one charger or all."""
        sql = "SELECT charger_id, direction, frame FROM frames"
        rows = (self._query(sql + " WHERE charger_id = ? ORDER BY id", (charger_id,)) if charger_id
                else self._query(sql + " ORDER BY id"))
        return [(c, d, f) for c, d, f in rows]

    def commands(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, t_s, charger_id, action, payload, outcome, detail FROM commands ORDER BY id")
        return [{"id": r[0], "t_s": r[1], "charger_id": r[2], "action": r[3], "payload": json.loads(r[4]),
                 "outcome": r[5], "detail": r[6]} for r in rows]

    def audit(self) -> list[dict[str, Any]]:
        """The operator's actions in order: ``id``, ``t_s``, ``who``, ``action``, ``target``,
        ``parameters`` (JSON), ``outcome`` and ``detail`` (``None`` while a call is outstanding)."""
        rows = self._query("SELECT id, t_s, who, action, target, parameters, outcome, detail FROM audit ORDER BY id")
        return [{"id": r[0], "t_s": r[1], "who": r[2], "action": r[3], "target": r[4], "parameters": json.loads(r[5]),
                 "outcome": r[6], "detail": r[7]} for r in rows]

    def decisions(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, t_s, mode, data FROM decisions ORDER BY id")
        return [{"id": r[0], "t_s": r[1], "mode": r[2], "data": json.loads(r[3])} for r in rows]

    def setpoints(self) -> list[tuple[int, str, float | None, float | None]]:
        return list(self._query("SELECT decision_id, charger_id, setpoint_a, measured_a FROM setpoints ORDER BY rowid"))

    def log_lines(self) -> list[tuple[str, str | None, str]]:
        """``(level, charger_id, message)`` in order."""
        return list(self._query("SELECT level, charger_id, message FROM log ORDER BY id"))

    def max_transaction_id(self) -> int:
        """The largest numeric transaction id handed out (1.6 ids continue from it after a restart)."""
        largest = 0
        for event in self.events_of(SessionStarted):
            if event.transaction_id.isdigit():
                largest = max(largest, int(event.transaction_id))
        return largest

    def events_of(self, cls: type) -> Iterator[Any]:
        for kind, data in self._query("SELECT kind, data FROM events WHERE kind = ? ORDER BY id", (cls.__name__,)):
            yield event_from_json(kind, data)

    def still_connected(self) -> list[str]:
        """Chargers whose last recorded link event is a connect: links a crash left open."""
        last: dict[str, str] = {}
        for kind, charger_id in self._query("SELECT kind, charger_id FROM events WHERE kind IN (?, ?) ORDER BY id",
                                            (ChargerConnected.__name__, ChargerDisconnected.__name__)):
            last[charger_id] = kind
        return sorted(c for c, kind in last.items() if kind == ChargerConnected.__name__)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)  # the group commits in flight finish first
            self._writer = None
        self.commit()
        self._db.close()

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading a store offline (export, replay) -----------------------------------------------------
# A closed store is opened read-only, so exporting or replaying never changes it and works while
# ``feedertwin live`` still writes (WAL readers do not block the writer).


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the live store at ``path``; ``StoreError`` naming the path when it
    is missing, not SQLite, or a SQLite file without the store's tables."""
    file = Path(path)
    if not file.is_file():
        raise StoreError(f"store {file}: no such file; expected the SQLite store a live site writes "
                         "(the site file's 'store' key)")
    try:
        db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as error:
        raise StoreError(f"store {file}: cannot open it as a SQLite database: {error}") from None
    missing = {"events", "frames"} - tables
    if missing:
        db.close()
        raise StoreError(f"store {file}: not a feedertwin live store (no table {', '.join(sorted(missing))}); "
                         "expected the SQLite store a live site writes")
    return db


def read_events(path: str | Path) -> list[LiveEvent]:
    """Every event of the store at ``path``, in the order it was recorded (read-only)."""
    db = open_read_only(path)
    try:
        return [event_from_json(kind, data) for kind, data in db.execute("SELECT kind, data FROM events ORDER BY id")]
    finally:
        db.close()


# -- reading recent rows through a read-only connection (the API) --------------------------------
# The API of a running site reads with its own ``open_read_only`` connection: a request never waits
# for the live store's group commit (its lock is held through the fsync), and never blocks it.


def read_event_rows(db: sqlite3.Connection, classes: Sequence[type], charger_id: str | None = None,
                    min_id: int = 0) -> list[tuple[int, Any]]:
    """``(id, event)`` of the events of these classes (of one charger, or all) from row ``min_id``
    on, in the order they were recorded (the ``events_by_kind`` index: a recent window is cheap)."""
    kinds = [cls.__name__ for cls in classes]
    sql = f"SELECT id, kind, data FROM events WHERE kind IN ({', '.join('?' * len(kinds))}) AND id >= ?"
    params: tuple[Any, ...] = (*kinds, min_id)
    if charger_id is not None:
        sql, params = sql + " AND charger_id = ?", (*params, charger_id)
    return [(row_id, event_from_json(kind, data)) for row_id, kind, data in db.execute(sql + " ORDER BY id", params)]


def read_latest_events(db: sqlite3.Connection, cls: type, charger_id: str | None = None, *,
                       per_connector: bool = False) -> list[Any]:
    """The latest event of class ``cls`` of each charger (or of each charger's connector), oldest
    first: e.g. each connector's status now, without reading every status ever recorded."""
    group = "charger_id, json_extract(data, '$.connector_id')" if per_connector else "charger_id"
    where, params = ("kind = ? AND charger_id = ?", (cls.__name__, charger_id)) if charger_id is not None else (
        "kind = ?", (cls.__name__,))
    sql = (f"SELECT kind, data FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE {where} GROUP BY {group}) "
           "ORDER BY id")
    return [event_from_json(kind, data) for kind, data in db.execute(sql, params)]


def read_last_seen(db: sqlite3.Connection, charger_ids: Sequence[str]) -> dict[str, float]:
    """When each charger last sent a frame (epoch s); chargers that never did are left out."""
    seen = {}
    for charger_id in charger_ids:  # the frames_by_charger index: one short backward walk each
        row = db.execute("SELECT t_s FROM frames WHERE charger_id = ? AND direction = 'in' ORDER BY id DESC LIMIT 1",
                         (charger_id,)).fetchone()
        if row is not None:
            seen[charger_id] = float(row[0])
    return seen


def read_recent_decisions(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` decisions, newest first: ``id``, ``t_s``, ``mode``, ``data`` (the
    decision as recorded), ``setpoints`` (``(charger_id, setpoint_a, measured_a)`` rows) and
    ``grid`` (the load flow's summary, or ``None``)."""
    decisions = [{"id": r[0], "t_s": r[1], "mode": r[2], "data": json.loads(r[3]), "setpoints": [], "grid": None}
                 for r in db.execute("SELECT id, t_s, mode, data FROM decisions ORDER BY id DESC LIMIT ?", (limit,))]
    if decisions:
        by_id = {d["id"]: d for d in decisions}
        low = min(by_id)
        for decision_id, charger_id, setpoint_a, measured_a in db.execute(
                "SELECT decision_id, charger_id, setpoint_a, measured_a FROM setpoints WHERE decision_id >= ? "
                "ORDER BY rowid", (low,)):
            if decision_id in by_id:
                by_id[decision_id]["setpoints"].append((charger_id, setpoint_a, measured_a))
        for row in db.execute("SELECT decision_id, vm_min_pu, vm_max_pu, max_line_loading_percent, "
                              "max_trafo_loading_percent, p_import_kw FROM grid_states WHERE decision_id >= ?", (low,)):
            if row[0] in by_id:
                by_id[row[0]]["grid"] = dict(zip(("vm_min_pu", "vm_max_pu", "max_line_loading_percent",
                                                  "max_trafo_loading_percent", "p_import_kw"), row[1:], strict=True))
    return decisions


def read_site_power(db: sqlite3.Connection,
                    since_t_s: float) -> list[tuple[float, float | None, float | None, float | None]]:
    """``(t_s, charging_kw, import_kw, import_limit_kw)`` of every tick from ``since_t_s`` on, oldest
    first (the ``site_power_by_time`` index: a recent window is cheap). A store written before this
    table existed has no power history: an empty list."""
    try:
        rows = db.execute("SELECT t_s, charging_kw, import_kw, import_limit_kw FROM site_power WHERE t_s >= ? "
                          "ORDER BY t_s, decision_id", (since_t_s,)).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
    return [(float(t_s), charging_kw, import_kw, import_limit_kw)
            for t_s, charging_kw, import_kw, import_limit_kw in rows]


def read_recent_commands(db: sqlite3.Connection, limit: int, charger_id: str | None = None) -> list[dict[str, Any]]:
    """The latest ``limit`` commands (of one charger, or all), newest first, with their outcome."""
    sql = "SELECT id, t_s, charger_id, action, outcome, detail, outcome_t_s FROM commands"
    params: tuple[Any, ...] = (limit,)
    if charger_id is not None:
        sql, params = sql + " WHERE charger_id = ?", (charger_id, limit)
    rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", params)
    return [dict(zip(("id", "t_s", "charger_id", "action", "outcome", "detail", "outcome_t_s"), r, strict=True))
            for r in rows]


def read_recent_log(db: sqlite3.Connection, limit: int, levels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The latest ``limit`` log lines (of these levels, or all), newest first."""
    sql = "SELECT t_s, level, charger_id, message FROM log"
    params: tuple[Any, ...] = ()
    if levels:
        sql, params = sql + f" WHERE level IN ({', '.join('?' * len(levels))})", tuple(levels)
    rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [dict(zip(("t_s", "level", "charger_id", "message"), r, strict=True)) for r in rows]


def record_site_file(store: LiveStore, site_path: str | Path, t_s: float) -> None:
    """Keep the text of the site file a live run uses in its store (committed now), so ``replay``
    finds the site's chargers, limits and strategy without being told. Each start adds a row; the
    latest is the one that counts."""
    path = Path(site_path).resolve()
    store._write("CREATE TABLE IF NOT EXISTS site_files (id INTEGER PRIMARY KEY, t_s REAL NOT NULL, "
                 "path TEXT NOT NULL, text TEXT NOT NULL)", ())
    store._write("INSERT INTO site_files (t_s, path, text) VALUES (?, ?, ?)",
                 (t_s, str(path), path.read_text(encoding="utf-8")))
    store.commit()


def read_site_file(path: str | Path) -> tuple[Path, str] | None:
    """The latest site file recorded in the store at ``path`` (its path then, its text), or ``None``
    for a store written before site files were recorded."""
    db = open_read_only(path)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'site_files'").fetchone() is None:
            return None
        row = db.execute("SELECT path, text FROM site_files ORDER BY id DESC LIMIT 1").fetchone()
        return (Path(row[0]), row[1]) if row is not None else None
    finally:
        db.close()
