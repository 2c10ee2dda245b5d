"""The audit trail: same transaction, redacted, append-only, tamper-evident."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from opsnb.errors import AuditError
from opsnb.workbench import Workbench


def _append(ops: Workbench, n: int, prefix: str = "a") -> None:
    for i in range(n):
        with ops.db.session():
            ops.audit.record(action="test.do", target=f"{prefix}{i}", params={"i": i})


def test_records_are_redacted_and_listed(ops: Workbench) -> None:
    with ops.db.session():
        ops.audit.record(action="fleet.run", target="role=web",
                         params={"command": ["df", "-h"], "password": "hunter2",
                                 "url": "postgresql://u:pw@db/x", "nested": {"api_token": "t0k"}},
                         reason="disk alert")
    df = ops.audit.list(action="fleet.*")
    row = df.iloc[0]
    assert row["actor"] == "tester" and row["target"] == "role=web" and row["reason"] == "disk alert"
    flat = str(row["params"])
    assert "hunter2" not in flat and ":pw@" not in flat and "t0k" not in flat
    assert row["params"]["command"] == ["df", "-h"]
    assert str(df["at"].dtype) == "datetime64[us, UTC]"


def test_record_rolls_back_with_the_change(ops: Workbench) -> None:
    before = ops.audit.verify().checked
    with pytest.raises(RuntimeError), ops.db.session():
        ops.audit.record(action="x.y", target="t")
        raise RuntimeError("the audited change failed")
    assert ops.audit.verify().checked == before and ops.audit.verify().ok


def test_chain_verifies_and_detects_tampering(ops: Workbench) -> None:
    _append(ops, 5)
    assert ops.audit.verify().ok
    # The database refuses edits outright...
    with pytest.raises(Exception, match="append-only"), ops.db.engine.begin() as c:
        c.execute(text("UPDATE audit_records SET target = 'forged' WHERE seq = 3"))
    # ...and an attacker who drops the guard is still caught by the hash chain.
    with ops.db.engine.begin() as c:
        if ops.db.dialect == "sqlite":
            c.execute(text("DROP TRIGGER audit_records_no_update"))
        else:
            c.execute(text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"))
        c.execute(text("UPDATE audit_records SET target = 'forged' WHERE seq = 3"))
    result = ops.audit.verify()
    assert not result.ok and result.broken_at == 3 and "altered" in result.reason
    with pytest.raises(AuditError) as info:
        ops.audit.verify(strict=True)
    assert info.value.seq == 3


def test_deleting_the_tail_is_detected(ops: Workbench) -> None:
    _append(ops, 4)
    with ops.db.engine.begin() as c:
        if ops.db.dialect == "sqlite":
            c.execute(text("DROP TRIGGER audit_records_no_delete"))
        else:
            c.execute(text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"))
        c.execute(text("DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)"))
    assert not ops.audit.verify().ok


def test_concurrent_appends_form_one_chain(ops: Workbench) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            _append(ops, 15, prefix=f"w{k}-")
        except BaseException as exc:  # collected: the assertion below reports them
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = ops.audit.verify()
    assert result.ok and result.checked == 1 + 4 * 15  # + the admin grant of the fixture


# ------------------------------------------------------------------ anchors


def _drop_guards(ops: Workbench) -> None:
    """What an attacker with the database does first: remove the append-only triggers."""
    with ops.db.engine.begin() as c:
        if ops.db.dialect == "sqlite":
            c.execute(text("DROP TRIGGER audit_records_no_update"))
            c.execute(text("DROP TRIGGER audit_records_no_delete"))
        else:
            c.execute(text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"))


def _rewrite(ops: Workbench, sql: str) -> None:
    with ops.db.engine.begin() as conn:
        conn.execute(text(sql))


def test_anchor_catches_a_rewound_head(ops: Workbench) -> None:
    """Deleting the newest records and setting the head back verifies as a chain; the anchor says no."""
    _append(ops, 5)
    assert ops.audit.anchor() is not None and ops.audit.anchor() is None  # nothing new: no second anchor
    head = ops.audit.list(limit=1).iloc[0]["seq"]
    first = ops.audit.anchors()[-1]
    assert first["seq"] == head
    _drop_guards(ops)
    _rewrite(ops, f"DELETE FROM audit_records WHERE seq > {head - 2}")
    prev = ops.audit.list(limit=1)
    kept = int(prev.iloc[0]["seq"])
    from sqlalchemy import select

    from opsnb.audit.models import AuditHead, AuditRecord

    with ops.db.session() as s:
        last = s.scalar(select(AuditRecord).where(AuditRecord.seq == kept))
        assert last is not None
        h = s.get(AuditHead, 1)
        assert h is not None
        h.seq, h.hash = kept, last.hash
    res = ops.audit.verify()
    assert not res.ok and "anchored" in res.reason


def test_anchor_catches_an_emptied_table(ops: Workbench) -> None:
    _append(ops, 3)
    ops.audit.anchor()
    _drop_guards(ops)
    _rewrite(ops, "DELETE FROM audit_records")
    _rewrite(ops, "UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "'")
    res = ops.audit.verify()
    assert not res.ok and "anchored" in res.reason


def test_anchor_catches_an_edit_followed_by_rechaining(ops: Workbench) -> None:
    from sqlalchemy import select

    from opsnb.audit import service as audit_service
    from opsnb.audit.models import AuditHead, AuditRecord

    _append(ops, 4)
    ops.audit.anchor()
    _drop_guards(ops)
    with ops.db.session() as s:  # the attacker knows the algorithm: edit #2 and recompute every hash after it
        prev = audit_service.GENESIS
        for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
            if r.target == "a1":
                r.target = "forged"
            r.prev_hash = prev
            r.hash = audit_service._digest(r.seq, r.at, r.actor, r.action, r.target, r.params, r.reason, prev)
            prev = r.hash
        h = s.get(AuditHead, 1)
        assert h is not None
        h.hash = prev
    res = ops.audit.verify()
    assert not res.ok and "anchor" in res.reason


def test_the_scheduler_tick_anchors_at_most_every_interval(ops: Workbench) -> None:
    _append(ops, 2)
    assert ops.audit.tick() is not None
    _append(ops, 1, prefix="b")
    assert ops.audit.tick() is None  # within audit_anchor_interval of the last anchor
    assert ops.audit.anchor() is not None  # by hand: always, when the head moved
    assert ops.audit.verify().ok
