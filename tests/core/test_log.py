"""The SQLite inspection log: round trips, filters, overrides, CSV export, schema migration, threads and crashes.

Every test uses a real database file in ``tmp_path``; the crash test SIGKILLs a real writer process.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.errors import LogError
from core.log import COLUMNS, SCHEMA_VERSION, InspectionLog, LogRow, PendingRecord, export_main
from core.types import Frame, InputMode, InspectionResult, Thresholds, Verdict

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC).timestamp()


def _result(score: float = 0.5, category: str = "bottle", verdict: Verdict | None = None, **kw) -> InspectionResult:
    th = Thresholds(image=1.0, pixel=1.2, uncertain_band=0.1)
    amap = np.full((8, 8), score, np.float32)
    return InspectionResult(
        score=score,
        raw_score=score * 3.0,
        verdict=verdict or th.decide(score),
        anomaly_map=amap,
        illumination_map=np.full((8, 8), 0.2, np.float32),
        thresholds=th,
        mode=kw.pop("mode", InputMode.LOWLIGHT),
        timings={"pre": 1.5, "model": 10.0, "post": 0.5},
        category=category,
        model_version=kw.pop("model_version", "bottle@3"),
        **kw,
    )


@pytest.fixture
def log(tmp_path: Path):
    with InspectionLog(tmp_path / "log.sqlite") as lg:
        yield lg


def test_record_round_trip_keeps_every_field(log: InspectionLog) -> None:
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), source="folder:parts", ref="/data/a.png", timestamp=T0)
    rid = log.record(_result(1.5, frame=frame), image_sha256="ab" * 32, saved_image="/imgs/a.png")
    row = log.get(rid)
    assert isinstance(row, LogRow)
    assert row.id == rid
    assert row.time == "2024-05-01T08:00:00.000+00:00"
    assert row.unix_time == T0
    assert (row.category, row.model_version) == ("bottle", "bottle@3")
    assert row.score == 1.5 and row.raw_score == 4.5
    assert (row.image_threshold, row.pixel_threshold) == (1.0, 1.2)
    assert row.verdict is Verdict.NG and row.mode is InputMode.LOWLIGHT
    assert (row.source, row.image_ref) == ("folder:parts", "/data/a.png")
    assert (row.image_sha256, row.saved_image) == ("ab" * 32, "/imgs/a.png")
    assert row.inference_ms == 12.0
    assert row.override_verdict is None and row.override_time is None and row.override_note == ""
    assert row.error == "" and row.final_verdict is Verdict.NG


def test_explicit_provenance_wins_and_nan_scores_read_back_as_nan(log: InspectionLog) -> None:
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), source="camera:0", ref="cam")
    res = _result(math.nan, error="model produced NaN", frame=frame)
    assert res.verdict is Verdict.ERROR
    row = log.get(log.record(res, source="hot:inbox", image_ref=Path("/in/x.png"), when=T0))
    assert (row.source, row.image_ref, row.unix_time) == ("hot:inbox", "/in/x.png", T0)
    assert math.isnan(row.score) and math.isnan(row.raw_score)
    assert row.verdict is Verdict.ERROR and row.error == "model produced NaN"


def test_record_many_returns_ids_in_order(log: InspectionLog) -> None:
    items = [PendingRecord(_result(0.1 * i), image_ref=f"/p/{i}.png", when=T0 + i) for i in range(20)]
    ids = log.record_many([*items, _result(2.0)])
    assert len(ids) == 21 and ids == sorted(ids)
    assert [log.get(i).image_ref for i in ids[:3]] == ["/p/0.png", "/p/1.png", "/p/2.png"]
    assert log.count() == 21


def test_a_batch_with_a_bad_item_writes_nothing(log: InspectionLog) -> None:
    bad = _result(0.2, verdict="MAYBE")  # type: ignore[arg-type]
    with pytest.raises(LogError, match="unknown verdict"):
        log.record_many([_result(0.1), bad])
    assert log.count() == 0


def test_override_keeps_model_verdict_and_history(log: InspectionLog) -> None:
    rid = log.record(_result(1.4), when=T0)
    log.set_override(rid, "ok", "scratch is on the fixture, not the part")
    row = log.get(rid)
    assert row.verdict is Verdict.NG and row.override_verdict is Verdict.OK
    assert row.final_verdict is Verdict.OK
    assert row.override_note == "scratch is on the fixture, not the part"
    assert datetime.fromisoformat(row.override_time).tzinfo is not None
    assert log.count(verdict=Verdict.OK) == 1 and log.count(verdict="NG") == 0

    log.set_override(rid, None, "withdrawn")
    row = log.get(rid)
    assert row.override_verdict is None and row.final_verdict is Verdict.NG
    with sqlite3.connect(log.path) as raw:
        history = raw.execute("SELECT verdict, note FROM overrides WHERE inspection_id = ? ORDER BY id", (rid,))
        assert history.fetchall() == [("OK", "scratch is on the fixture, not the part"), (None, "withdrawn")]

    with pytest.raises(LogError, match="no inspection with id 999"):
        log.set_override(999, Verdict.NG)
    with pytest.raises(LogError, match="unknown verdict"):
        log.set_override(rid, "fine")


def _fill(log: InspectionLog) -> list[int]:
    spec = [("bottle", 0.2), ("bottle", 1.5), ("screw", 0.95), ("screw", 3.0), ("bottle", 0.1), ("cable", 2.0)]
    return log.record_many(PendingRecord(_result(s, c), when=T0 + 3600 * i) for i, (c, s) in enumerate(spec))


def test_query_filters_order_and_paging(log: InspectionLog) -> None:
    ids = _fill(log)
    assert log.categories() == ["bottle", "cable", "screw"]
    assert [r.id for r in log.query()] == ids[::-1]
    assert [r.id for r in log.query(newest_first=False)] == ids
    assert [r.id for r in log.query(category="bottle")] == [ids[4], ids[1], ids[0]]
    assert [r.id for r in log.query(verdict="ng")] == [ids[5], ids[3], ids[1]]
    assert [r.verdict for r in log.query(category="screw", verdict=Verdict.UNCERTAIN)] == [Verdict.UNCERTAIN]
    # since inclusive, until exclusive; unix seconds, ISO strings and datetimes all work
    assert [r.id for r in log.query(since=T0 + 3600, until=T0 + 3 * 3600)] == [ids[2], ids[1]]
    assert log.count(since="2024-05-01T09:00:00+00:00", until="2024-05-01T11:00:00Z") == 2
    assert log.count(since=datetime(2024, 5, 1, 12, tzinfo=UTC)) == 2
    assert [r.id for r in log.query(limit=2, offset=1)] == [ids[4], ids[3]]
    assert [r.id for r in log.query(offset=4)] == [ids[1], ids[0]]
    assert log.count(category="bottle", verdict="OK") == 2
    with pytest.raises(LogError, match="not a date/time"):
        log.query(since="yesterday")


def test_export_csv_is_complete_atomic_and_filtered(log: InspectionLog, tmp_path: Path) -> None:
    ids = _fill(log)
    log.set_override(ids[1], Verdict.OK, 'operator said "fine", twice')
    out = tmp_path / "exports" / "ng.csv"
    out.parent.mkdir()
    out.write_text("old content that must be replaced\n")
    assert log.export_csv(out, verdict="NG") == 2
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [*COLUMNS, "final_verdict"]
    assert [int(r["id"]) for r in rows] == [ids[3], ids[5]]  # oldest first
    assert {r["final_verdict"] for r in rows} == {"NG"}
    assert rows[0]["override_verdict"] == "" and float(rows[0]["score"]) == 3.0

    assert log.export_csv(out, category="bottle") == 3
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    overridden = next(r for r in rows if int(r["id"]) == ids[1])
    assert overridden["verdict"] == "NG" and overridden["final_verdict"] == "OK"
    assert overridden["override_note"] == 'operator said "fine", twice'
    assert sorted(p.name for p in out.parent.iterdir()) == ["ng.csv"]  # no temporary file left behind

    with pytest.raises(LogError, match="cannot write"):
        log.export_csv(tmp_path / "missing-folder" / "x.csv")


def test_export_main_for_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite"
    with pytest.raises(LogError, match="no inspection log"):
        export_main(db, tmp_path / "x.csv", None, None, None, None)
    assert not db.exists()
    with InspectionLog(db) as lg:
        _fill(lg)
    out = tmp_path / "out.csv"
    assert export_main(db, out, "screw", None, "2024-05-01T09:00Z", None) == 2
    assert export_main(str(db), out, None, "OK", None, "2024-05-01T12:00+00:00") == 1  # until is exclusive
    with pytest.raises(LogError, match="unknown verdict"):
        export_main(db, out, None, "bad", None, None)


def test_default_path_comes_from_llad_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAD_HOME", str(tmp_path / "home"))
    with InspectionLog() as lg:
        lg.record(_result())
    assert (tmp_path / "home" / "inspections.sqlite").is_file()


def test_wal_and_foreign_keys_are_on(log: InspectionLog) -> None:
    rid = log.record(_result(1.3))
    log.set_override(rid, Verdict.OK)
    with sqlite3.connect(log.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn = log._conn()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO overrides (inspection_id, verdict, time, unix_time) VALUES (12345, 'OK', '', 0)")


V1_SCHEMA = """
CREATE TABLE inspections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    unix_time REAL NOT NULL,
    category TEXT NOT NULL,
    score REAL,
    verdict TEXT NOT NULL,
    image_ref TEXT NOT NULL DEFAULT ''
);
"""


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    raw = sqlite3.connect(db)
    raw.executescript(V1_SCHEMA)
    raw.executemany(
        "INSERT INTO inspections (time, unix_time, category, score, verdict, image_ref) VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("2023-01-01T00:00:00+00:00", 1672531200.0, "bottle", 0.3, "OK", "/old/a.png"),
            ("2023-01-01T00:00:01+00:00", 1672531201.0, "bottle", 2.5, "NG", "/old/b.png"),
        ],
    )
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    with InspectionLog(db) as lg:
        old = lg.query(newest_first=False)
        assert [(r.id, r.image_ref, r.verdict) for r in old] == [
            (1, "/old/a.png", Verdict.OK),
            (2, "/old/b.png", Verdict.NG),
        ]
        assert old[1].score == 2.5 and math.isnan(old[1].raw_score)
        assert old[1].mode is None and old[1].model_version == "" and old[1].override_verdict is None
        lg.set_override(2, Verdict.OK, "re-checked")
        new_id = lg.record(_result(1.7))
        assert new_id == 3 and lg.get(new_id).model_version == "bottle@3"
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        cols = [r[1] for r in raw.execute("PRAGMA table_info(inspections)")]
        assert set(COLUMNS) <= set(cols)
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite"
    with InspectionLog(db) as lg:
        lg.record(_result())
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LogError, match=rf"schema version {SCHEMA_VERSION + 1}.*newer LLAD"):
        InspectionLog(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert raw.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == 1


def test_foreign_and_damaged_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LogError, match="junk.sqlite"):
        InspectionLog(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(LogError, match="not an LLAD inspection log"):
        InspectionLog(other)


def test_closed_log_refuses_use(tmp_path: Path) -> None:
    lg = InspectionLog(tmp_path / "log.sqlite")
    lg.close()
    with pytest.raises(LogError, match="closed"):
        lg.record(_result())


def test_one_writer_thread_and_reader_threads(log: InspectionLog) -> None:
    n, errors = 200, []
    counts: dict[int, list[int]] = {0: [], 1: []}
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(n):
                log.record(_result(0.01 * i), when=T0 + i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def read(k: int) -> None:
        try:
            while not done.is_set():
                counts[k].append(log.count())
                assert len(log.query(limit=5)) <= 5
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read, args=(0,))]
    threads.append(threading.Thread(target=read, args=(1,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert log.count() == n
    for seen in counts.values():  # each reader saw a consistent, growing log
        assert seen and seen == sorted(seen) and seen[-1] <= n
    assert len(log._conns) <= 4


CHILD = """
import sys
import numpy as np
from core.log import InspectionLog
from core.types import InputMode, InspectionResult, Thresholds, Verdict

log = InspectionLog(sys.argv[1])
res = InspectionResult(score=1.5, raw_score=4.0, verdict=Verdict.NG, anomaly_map=np.zeros((4, 4), np.float32),
                       illumination_map=None, thresholds=Thresholds(), mode=InputMode.LOWLIGHT, category="crash")
print("ready", flush=True)
while True:
    print(log.record(res, image_ref="/x/" + "y" * 200), flush=True)
"""


def test_sigkill_mid_run_loses_no_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    reported = []
    try:
        assert child.stdout.readline().strip() == "ready"
        while len(reported) < 150:
            line = child.stdout.readline()
            assert line, "the writer died on its own"
            reported.append(int(line))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with InspectionLog(db) as lg:
        ids = {r.id for r in lg.query()}
        assert set(reported) <= ids
        assert lg.count(category="crash") == len(ids) >= 150
        assert lg.record(_result()) > max(reported)


def test_the_lighting_reason_is_logged_and_an_older_log_gains_its_column(tmp_path: Path) -> None:
    """A frame the guard sent to a person keeps its reason in the log (and the CSV); a log written before the
    column existed is migrated, its rows with no reason."""
    db = tmp_path / "older.sqlite"
    with InspectionLog(db) as lg:
        lg.record(_result(0.2))
    with sqlite3.connect(db) as raw:  # back to the schema before: as an LLAD before the reason column left it
        raw.execute("ALTER TABLE inspections DROP COLUMN reason")
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with InspectionLog(db) as lg:
        dark = _result(3.0, verdict=Verdict.UNCERTAIN, reason="too dark for this model")
        new_id = lg.record(dark)
        rows = {r.id: r for r in lg.query()}
        assert rows[1].reason == "" and rows[new_id].reason == "too dark for this model"
        assert rows[new_id].verdict == Verdict.UNCERTAIN
        out = tmp_path / "log.csv"
        lg.export_csv(out)
    with out.open(newline="") as f:
        exported = list(csv.DictReader(f))
    assert [r["reason"] for r in exported if r["id"] == str(new_id)] == ["too dark for this model"]
