"""Reports reach their readers: over a real SMTP server, once per period and recipient."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.collect import intake
from pilot_tracker.collect.payload import Payload
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.models import Program, Unit
from pilot_tracker.reports import evaluation, reconciliation

from .conftest import ROOT
from .test_alerts import Now, deliver, free_port, smtp_server, write_config
from .test_program_file import SMALL

NOW = datetime(2021, 7, 5, 1, 0, tzinfo=UTC)


def csv_payload(rows: list[str]) -> Payload:
    text = "任务编号,进展状态,完成进度,进展情况,佐证材料,填报日期\n" + "\n".join(rows) + "\n"
    return Payload("进展.csv", text.encode("utf-8"), "folder")


def load(engine: sa.Engine, home: Path) -> None:
    spec = validate_program(copy.deepcopy(SMALL), "demo.yaml")
    with db.session(engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="demo.yaml", source_sha256="", now=NOW
        )
    sent = [
        ("tw", ["T-01,推进中,40,按计划推进,,2021-03-20"]),
        ("tw", ["T-01,已完成,100,已完成,《制度文件》,2021-06-20"]),
        ("rsj", ["T-02,推进中,20,有序推进,,2021-03-22"]),
    ]
    for unit_code, rows in sent:
        with db.session(engine) as session:
            program = session.exec(select(Program)).one()
            unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
            summary = intake.take_payload(
                session=session,
                program=program,
                unit=unit,
                payload=csv_payload(rows),
                as_of=date(2021, 6, 30),
                now=NOW,
                home=home,
                templates=None,
            )
            assert summary.status == "imported", summary


def test_leaders_get_the_evaluation_and_liaisons_their_statements_once(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    load(sqlite_engine, tmp_path)
    with db.session(sqlite_engine) as session:
        for write, period in (
            (reconciliation.write, {"quarter": "2021Q2"}),
            (evaluation.write, {"half": "2021H1"}),
        ):
            written = write(
                session=session,
                program="demo",
                folder=tmp_path / "reports",
                home=tmp_path,
                templates=ROOT / "templates",
                now=NOW,
                **period,
            )
            assert not written.problems
    port = free_port()
    with smtp_server(port) as box:
        addresses = {
            f"mailto://127.0.0.1:{port}?from=pilot@example.com&to=leader@example.org&format=text": "role:leader",
            f"mailto://127.0.0.1:{port}?from=pilot@example.com&to=office@example.org&format=text": "role:office",
            f"mailto://127.0.0.1:{port}?from=pilot@example.com&to=tw@example.org&format=text": "unit:tw, role:liaison",
            f"mailto://127.0.0.1:{port}?from=pilot@example.com&to=rsj@example.org&format=text": "unit:rsj, role:liaison",
            f"mailto://127.0.0.1:{port}?from=pilot@example.com&to=jyj@example.org&format=text": "unit:jyj, role:liaison",
        }
        config = write_config(tmp_path, addresses)
        first = deliver(sqlite_engine, config, tmp_path, Now(NOW), force=True)
        second = deliver(sqlite_engine, config, tmp_path, Now(NOW), force=True)
        mails = box.messages()

    assert first.failed == 0 and first.pending == 0
    assert second.as_dict() == {"sent": 0, "failed": 0, "pending": 0, "deduplicated": 0}
    by_recipient = {}
    for message in mails:
        by_recipient.setdefault(message["To"], []).append(message)
    assert {to: len(messages) for to, messages in by_recipient.items()} == {
        "leader@example.org": 1,
        "office@example.org": 1,
        "tw@example.org": 1,
        "rsj@example.org": 1,
        "jyj@example.org": 1,  # 县教育局 co-leads T-01: its statement lists that task
    }
    leader = by_recipient["leader@example.org"][0]
    names = {part.get_filename() for part in leader.iter_attachments()}
    assert "demo-2021H1-半年度评估.pdf" in names
    assert {"demo-2021H1-半年度评估.xlsx", "demo-2021H1-半年度评估.docx"} <= names
    attached = next(
        p for p in leader.iter_attachments() if p.get_filename() == "demo-2021H1-半年度评估.pdf"
    )
    assert attached.get_content().startswith(b"%PDF")
    assert "【半年度评估】演示县试点" in leader.get_body(preferencelist=("plain",)).get_content()
    for unit in ("tw", "rsj"):
        (mail,) = by_recipient[f"{unit}@example.org"]
        assert mail["Subject"].startswith("【对账单】演示县试点 · ")
        assert {part.get_filename() for part in mail.iter_attachments()} == {
            f"demo-2021Q2-对账单-{unit}.pdf"
        }
