"""The inspection log: one SQLite row per inspected part, kept for traceability and for the operator's review.

Why SQLite: one file, no server, crash-safe transactions, and concurrent readers while a writer writes (WAL).

Durability: ``synchronous=FULL`` by default. In WAL mode ``NORMAL`` already survives a crash of the program
(a killed process never corrupts the file or loses a committed row), but it may lose the last commits on a
power cut or an OS crash. The log is a quality record on a factory PC that can lose power, and a row the
operator has seen should still be there afterwards; FULL costs one fsync per commit (about a millisecond on an
SSD), and :meth:`InspectionLog.record_many` batches many rows into one commit when that matters.
Pass ``synchronous="NORMAL"`` to trade that guarantee for speed.

Threads: one SQLite connection per thread, created on first use in that thread. WAL lets readers on other
threads (a GUI table, an export) read a consistent snapshot while the writer thread records; writes from
several threads are serialised by SQLite's lock with a busy timeout. :meth:`InspectionLog.close` closes every
connection, so call it once the other threads are done with the log.

Schema: versioned with ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a database from version ``i`` to
``i + 1``; opening an older database runs the missing steps in one transaction, and a database written by a
newer LLAD is refused with :class:`~core.errors.LogError` rather than being misread.
"""

from __future__ import annotations

import csv
import hashlib
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import LogError
from core.fsio import atomic_writer, file_sha256
from core.paths import log_path
from core.types import InputMode, InspectionResult, Verdict

# Version 1 is the first schema (the decision only); version 2 added provenance, thresholds, timing, errors
# and the operator override; version 3 keeps every override in a history table and adds the query indexes;
# version 4 records the results a line link (MQTT, webhook, ...) could not deliver.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE inspections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            unix_time REAL NOT NULL,
            category TEXT NOT NULL,
            score REAL,
            verdict TEXT NOT NULL,
            image_ref TEXT NOT NULL DEFAULT ''
        )""",
    ),
    (
        "ALTER TABLE inspections ADD COLUMN model_version TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN raw_score REAL",
        "ALTER TABLE inspections ADD COLUMN image_threshold REAL",
        "ALTER TABLE inspections ADD COLUMN pixel_threshold REAL",
        "ALTER TABLE inspections ADD COLUMN mode TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN source TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN image_sha256 TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN saved_image TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN inference_ms REAL",
        "ALTER TABLE inspections ADD COLUMN override_verdict TEXT",
        "ALTER TABLE inspections ADD COLUMN override_note TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE inspections ADD COLUMN override_time TEXT",
        "ALTER TABLE inspections ADD COLUMN error TEXT NOT NULL DEFAULT ''",
    ),
    (
        """CREATE TABLE overrides (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            inspection_id INTEGER NOT NULL REFERENCES inspections(id) ON DELETE CASCADE,
            verdict TEXT,
            note TEXT NOT NULL DEFAULT '',
            time TEXT NOT NULL,
            unix_time REAL NOT NULL
        )""",
        "CREATE INDEX overrides_inspection ON overrides(inspection_id)",
        "CREATE INDEX inspections_time ON inspections(unix_time)",
        "CREATE INDEX inspections_category_time ON inspections(category, unix_time)",
        "CREATE INDEX inspections_final_verdict ON inspections(COALESCE(override_verdict, verdict), unix_time)",
    ),
    (
        """CREATE TABLE undelivered (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            unix_time REAL NOT NULL,
            link TEXT NOT NULL,
            inspection_id INTEGER,
            reason TEXT NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS: tuple[str, ...] = (
    "id",
    "time",
    "unix_time",
    "category",
    "model_version",
    "score",
    "raw_score",
    "image_threshold",
    "pixel_threshold",
    "verdict",
    "mode",
    "source",
    "image_ref",
    "image_sha256",
    "saved_image",
    "inference_ms",
    "override_verdict",
    "override_note",
    "override_time",
    "error",
)
_INSERT_COLUMNS = COLUMNS[1:]
_FINAL_VERDICT = "COALESCE(override_verdict, verdict)"

TimeBound = float | int | str | datetime | None
"""A time filter: unix seconds, an ISO 8601 string or a datetime; naive values are local time."""


@dataclass(frozen=True)
class LogRow:
    """One logged inspection as read back. ``score`` is NaN where the model gave no finite score."""

    id: int
    time: str
    unix_time: float
    category: str
    model_version: str
    score: float
    raw_score: float
    image_threshold: float
    pixel_threshold: float
    verdict: Verdict
    mode: InputMode | None
    source: str
    image_ref: str
    image_sha256: str
    saved_image: str
    inference_ms: float
    override_verdict: Verdict | None
    override_note: str
    override_time: str | None
    error: str

    @property
    def final_verdict(self) -> Verdict:
        """The operator's verdict where there is one, else the model's."""
        return self.override_verdict or self.verdict


@dataclass(frozen=True)
class PendingRecord:
    """A result plus where it came from, ready to be logged; ``None`` fields fall back to ``result.frame``."""

    result: InspectionResult
    source: str | None = None
    image_ref: str | None = None
    image_sha256: str = ""
    saved_image: str = ""
    when: float | None = None


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")


def _num(x: Any) -> float | None:
    """SQLite stores NaN as NULL anyway; say so explicitly so infinities are treated alike."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _parse_verdict(v: Verdict | str) -> Verdict:
    try:
        return v if isinstance(v, Verdict) else Verdict(str(v).strip().upper())
    except ValueError:
        names = ", ".join(x.value for x in Verdict)
        raise LogError(f"unknown verdict {v!r}; expected one of {names}") from None


def _to_unix(value: TimeBound, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise LogError(
                f"{what} {value!r} is not a date/time (ISO 8601, e.g. 2024-05-01 or 2024-05-01T08:30)"
            ) from None
    if isinstance(value, datetime):
        return value.timestamp()
    raise LogError(f"{what} must be a date/time, got {type(value).__name__}")


def image_digest(image_ref: str | Path = "", saved_image: str | Path = "", image: np.ndarray | None = None) -> str:
    """The SHA-256 that ties a log row to its picture: of the image file the part was read from when there is
    one, else of the NG image saved for it, else of the frame's pixels as captured (a camera frame has no
    file; RGB uint8 bytes in row order). Empty when there is nothing to hash."""
    for path in (image_ref, saved_image):
        if path and Path(path).is_file():
            try:
                return file_sha256(path)
            except OSError:
                continue
    if image is not None and image.size:
        return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    return ""


def _row_values(p: PendingRecord) -> tuple:
    r = p.result
    frame = r.frame
    when = p.when if p.when is not None else (frame.timestamp if frame is not None else datetime.now(UTC).timestamp())
    source = p.source if p.source is not None else (frame.source if frame is not None else "")
    ref = p.image_ref if p.image_ref is not None else (frame.ref if frame is not None else "")
    values = {
        "time": _iso(when),
        "unix_time": float(when),
        "category": r.category,
        "model_version": r.model_version,
        "score": _num(r.score),
        "raw_score": _num(r.raw_score),
        "image_threshold": _num(r.thresholds.image),
        "pixel_threshold": _num(r.thresholds.pixel),
        "verdict": _parse_verdict(r.verdict).value,
        "mode": InputMode(r.mode).value,
        "source": str(source),
        "image_ref": str(ref),
        "image_sha256": p.image_sha256
        or image_digest(ref, p.saved_image, frame.image if frame is not None and frame.image.size > 3 else None),
        "saved_image": str(p.saved_image),
        "inference_ms": _num(r.total_ms),
        "override_verdict": None,
        "override_note": "",
        "override_time": None,
        "error": r.error,
    }
    return tuple(values[c] for c in _INSERT_COLUMNS)


def row_fields(result: InspectionResult, **where: Any) -> dict[str, Any]:
    """The fields a log row of ``result`` has (without ``id``); ``where`` as :class:`PendingRecord`'s fields."""
    return dict(zip(_INSERT_COLUMNS, _row_values(PendingRecord(result, **where))))


def _to_row(t: tuple) -> LogRow:
    d = dict(zip(COLUMNS, t))
    for k in ("score", "raw_score", "image_threshold", "pixel_threshold", "inference_ms"):
        d[k] = _float(d[k])
    d["verdict"] = Verdict(d["verdict"])
    d["mode"] = InputMode(d["mode"]) if d["mode"] else None
    d["override_verdict"] = Verdict(d["override_verdict"]) if d["override_verdict"] else None
    return LogRow(**d)


class InspectionLog:
    """The SQLite inspection log; see the module docstring for durability, threads and schema versions.

    ``path`` defaults to :func:`core.paths.log_path`. Usable as a context manager. Every error it raises on
    purpose is a :class:`~core.errors.LogError` naming the file.
    """

    def __init__(self, path: str | Path | None = None, *, synchronous: str = "FULL", timeout: float = 10.0) -> None:
        self.path = log_path(path)
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise LogError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conns: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogError(f"cannot create the folder for the inspection log {self.path}: {exc}") from None
        try:
            conn = self._conn()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. a network drive without shared memory
                raise LogError(f"inspection log {self.path}: cannot use WAL journal mode (got {mode!r})")
            self._migrate(conn)
        except sqlite3.Error as exc:
            self.close()
            raise self._error(exc, "open the database (is it an inspection log?)") from None
        except BaseException:
            self.close()
            raise

    # ---- connections and transactions -------------------------------------------------------------------

    def _error(self, exc: BaseException, doing: str) -> LogError:
        return LogError(f"inspection log {self.path}: cannot {doing}: {exc}")

    def _conn(self) -> sqlite3.Connection:
        me = threading.current_thread()
        with self._lock:
            if self._closed:
                raise LogError(f"inspection log {self.path} is closed")
            entry = self._conns.get(me.ident or 0)
            if entry is not None and entry[0] is me:
                return entry[1]
            for key, (thread, conn) in list(self._conns.items()):
                if not thread.is_alive() or thread.ident != key:  # finished threads leave their connection
                    conn.close()
                    del self._conns[key]
            try:
                # check_same_thread=False only so close() can close it; it is still used by one thread only.
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
            except sqlite3.Error as exc:
                raise self._error(exc, "open the database") from None
            self._conns[me.ident or 0] = (me, conn)
            return conn

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error(exc, doing) from None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "read the database (is it an inspection log?)") from None
        self._check_version(version)
        if version == SCHEMA_VERSION:
            return
        with self._transaction("migrate the schema") as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            self._check_version(version)
            if version == 0:
                tables = c.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
                if tables:
                    raise LogError(f"{self.path} is an SQLite database but not an LLAD inspection log")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    c.execute(statement)
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LogError(
                f"inspection log {self.path} has schema version {version}, written by a newer LLAD; this "
                f"version understands up to {SCHEMA_VERSION}. Update LLAD or choose another log file."
            )

    def close(self) -> None:
        """Close every thread's connection; the log cannot be used afterwards."""
        with self._lock:
            self._closed = True
            conns, self._conns = list(self._conns.values()), {}
        for _, conn in conns:
            conn.close()

    def __enter__(self) -> InspectionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ----------------------------------------------------------------------------------------

    def record(
        self,
        result: InspectionResult,
        *,
        source: str | None = None,
        image_ref: str | Path | None = None,
        image_sha256: str = "",
        saved_image: str | Path = "",
        when: float | None = None,
    ) -> int:
        """Log one result in its own transaction and return its row id.

        ``source`` and ``image_ref`` default to ``result.frame``'s; ``when`` (unix seconds) to the frame's time.
        """
        ref = None if image_ref is None else str(image_ref)
        pending = PendingRecord(result, source, ref, image_sha256, str(saved_image), when)
        return self.record_many([pending])[0]

    def record_many(self, items: Iterable[PendingRecord | InspectionResult]) -> list[int]:
        """Log many results in one transaction (all or none); returns their row ids in order."""
        rows = [_row_values(i if isinstance(i, PendingRecord) else PendingRecord(i)) for i in items]
        sql = f"INSERT INTO inspections ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
        ids = []
        with self._transaction("record an inspection") as conn:
            for values in rows:
                ids.append(int(conn.execute(sql, values).lastrowid))
        return ids

    def record_undelivered(self, link: str, payload: str, reason: str, inspection_id: int | None = None) -> int:
        """Keep a result that ``link`` (e.g. "webhook") could not deliver: its JSON ``payload`` and why."""
        now = datetime.now(UTC).timestamp()
        with self._transaction("record an undelivered result") as conn:
            cur = conn.execute(
                "INSERT INTO undelivered (time, unix_time, link, inspection_id, reason, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_iso(now), now, link, inspection_id, reason, payload),
            )
            return int(cur.lastrowid)

    def undelivered(self, link: str | None = None) -> list[dict[str, Any]]:
        """The undelivered results, oldest first, as dicts (id, time, link, inspection_id, reason, payload)."""
        where, params = (" WHERE link = ?", [link]) if link else ("", [])
        sql = f"SELECT id, time, link, inspection_id, reason, payload FROM undelivered{where} ORDER BY id"
        try:
            rows = self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "read the undelivered results") from None
        return [dict(zip(("id", "time", "link", "inspection_id", "reason", "payload"), r)) for r in rows]

    def set_override(self, row_id: int, verdict: Verdict | str | None, operator_note: str = "") -> None:
        """An operator corrects a verdict; the model's verdict is kept. ``verdict=None`` withdraws the override.

        Every change is also kept in the ``overrides`` history table.
        """
        v = None if verdict is None else _parse_verdict(verdict).value
        now = datetime.now(UTC).timestamp()
        with self._transaction("save the override") as conn:
            cur = conn.execute(
                "UPDATE inspections SET override_verdict = ?, override_note = ?, override_time = ? WHERE id = ?",
                (v, operator_note, None if v is None else _iso(now), int(row_id)),
            )
            if cur.rowcount != 1:
                raise LogError(f"inspection log {self.path}: no inspection with id {row_id}")
            conn.execute(
                "INSERT INTO overrides (inspection_id, verdict, note, time, unix_time) VALUES (?, ?, ?, ?, ?)",
                (int(row_id), v, operator_note, _iso(now), now),
            )

    # ---- reading ----------------------------------------------------------------------------------------

    @staticmethod
    def _where(category: str | None, verdict: Verdict | str | None, since: TimeBound, until: TimeBound) -> tuple:
        clauses, params = [], []
        if category is not None:
            clauses.append("category = ?")
            params.append(category)
        if verdict is not None:
            clauses.append(f"{_FINAL_VERDICT} = ?")
            params.append(_parse_verdict(verdict).value)
        lo, hi = _to_unix(since, "since"), _to_unix(until, "until")
        if lo is not None:
            clauses.append("unix_time >= ?")
            params.append(lo)
        if hi is not None:
            clauses.append("unix_time < ?")
            params.append(hi)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _select(self, where: str, params: list, order: str, limit: int | None, offset: int) -> Iterator[LogRow]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM inspections{where} ORDER BY {order} LIMIT ? OFFSET ?"
        try:
            cur = self._conn().execute(sql, [*params, -1 if limit is None else int(limit), int(offset)])
            for t in cur:
                yield _to_row(t)
        except sqlite3.Error as exc:
            raise self._error(exc, "read the log") from None

    def query(
        self,
        category: str | None = None,
        verdict: Verdict | str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        newest_first: bool = True,
    ) -> list[LogRow]:
        """Rows matching every given filter. ``verdict`` matches the final verdict (the override if any);
        ``since`` is inclusive and ``until`` exclusive."""
        where, params = self._where(category, verdict, since, until)
        order = "unix_time DESC, id DESC" if newest_first else "unix_time, id"
        return list(self._select(where, params, order, limit, offset))

    def get(self, row_id: int) -> LogRow | None:
        """One row by id, or None."""
        rows = list(self._select(" WHERE id = ?", [int(row_id)], "id", 1, 0))
        return rows[0] if rows else None

    def count(
        self,
        category: str | None = None,
        verdict: Verdict | str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
    ) -> int:
        """How many rows :meth:`query` would return without a limit."""
        where, params = self._where(category, verdict, since, until)
        try:
            return int(self._conn().execute(f"SELECT COUNT(*) FROM inspections{where}", params).fetchone()[0])
        except sqlite3.Error as exc:
            raise self._error(exc, "read the log") from None

    def categories(self) -> list[str]:
        """Every category that has at least one row, sorted."""
        try:
            rows = self._conn().execute("SELECT DISTINCT category FROM inspections ORDER BY category").fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "read the log") from None
        return [r[0] for r in rows]

    def export_csv(
        self,
        path: str | Path,
        category: str | None = None,
        verdict: Verdict | str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
    ) -> int:
        """Write the matching rows, oldest first, to a UTF-8 CSV file; returns the number of rows.

        The file appears complete or not at all: it is written to a temporary file next to ``path``, flushed
        to disk and renamed over it. One extra column, ``final_verdict``, gives the override-or-model verdict.
        """
        out = Path(path).expanduser()
        where, params = self._where(category, verdict, since, until)
        n = 0
        try:
            with atomic_writer(out, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow([*COLUMNS, "final_verdict"])
                for row in self._select(where, params, "unix_time, id", None, 0):
                    writer.writerow([*(_csv_cell(getattr(row, c)) for c in COLUMNS), row.final_verdict.value])
                    n += 1
        except OSError as exc:
            raise LogError(f"cannot write {out}: {exc.strerror or exc}") from None
        return n


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.value if isinstance(value, Verdict | InputMode) else value


def export_main(
    db_path: str | Path | None,
    out_path: str | Path,
    category: str | None = None,
    verdict: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> int:
    """``llad log export``: write the log's matching rows to ``out_path`` as CSV; returns the row count.

    ``db_path`` None means the default log (:func:`core.paths.log_path`). A missing log is an error rather
    than an empty export, so a mistyped path is noticed. Raises :class:`~core.errors.LogError`.
    """
    path = log_path(db_path)
    if not path.is_file():
        raise LogError(f"no inspection log at {path}")
    with InspectionLog(path) as log:
        return log.export_csv(out_path, category=category, verdict=verdict, since=since, until=until)
