"""The unit portal over HTTP: personal links, the unit's page, the guard in front of it."""

from __future__ import annotations

from pilot_tracker import db
from pilot_tracker.ledger import links
from pilot_tracker.models import Program, StatusReport, Submission, Task, Unit

from .portal_fixtures import NOW, PortalUnderTest


def test_a_units_link_opens_its_own_page_with_its_tasks_and_plan(portal: PortalUnderTest) -> None:
    page = portal.client.get(portal.link("yinzhou", "tqw"))
    assert page.status_code == 200
    assert "团区委" in page.text
    assert "YZ-JZ-01" in page.text and "计划进度" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_tampered_link_is_refused_with_a_page_in_chinese(portal: PortalUnderTest) -> None:
    path = portal.link("yinzhou", "tqw")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    answer = portal.client.get(tampered)
    assert answer.status_code == 404
    assert "链接不完整或已被改动" in answer.text
    assert tampered.removeprefix("/u/") not in answer.text


def test_a_revoked_link_is_gone_and_a_new_one_works(portal: PortalUnderTest) -> None:
    old = portal.link("xiangshan", "jyj")
    with db.session(portal.engine) as session:
        program = session.exec(
            db.sa.select(Program).where(Program.code == "xiangshan")
        ).scalar_one()
        links.revoke(session=session, program=program, unit="jyj")
    answer = portal.client.get(old)
    assert answer.status_code == 410
    assert "该链接已停用" in answer.text
    assert portal.client.get(portal.link("xiangshan", "jyj")).status_code == 200


def test_an_expired_link_is_gone(portal: PortalUnderTest) -> None:
    path = portal.link("xiangshan", "jyj")
    portal.clock[0] = portal.clock[0].replace(year=2022)
    answer = portal.client.get(path)
    assert answer.status_code == 410
    assert "已于2021-07-19过期" in answer.text


def test_a_co_unit_sees_the_lead_units_last_report_of_a_shared_task(
    portal: PortalUnderTest,
) -> None:
    with db.session(portal.engine) as session:
        program = session.exec(
            db.sa.select(Program).where(Program.code == "xiangshan")
        ).scalar_one()
        units = {
            unit.code: unit
            for unit in session.exec(
                db.sa.select(Unit).where(Unit.program_id == program.id)
            ).scalars()
        }
        task = session.exec(
            db.sa.select(Task).where(Task.program_id == program.id, Task.code == "XS-JZ-01")
        ).scalar_one()
        submission = Submission(
            program_id=program.id,
            unit_id=units["tw"].id,
            source="form",
            sha256="0" * 64,
            archive_path="archive/x",
            received_at=NOW,
            status="imported",
        )
        session.add(submission)
        session.flush()
        session.add(
            StatusReport(
                submission_id=submission.id,
                task_id=task.id,
                unit_id=units["tw"].id,
                period="2021-04",
                status="in_progress",
                percent=60,
                reported_on=NOW.date(),
            )
        )
    shared = portal.client.get(portal.link("xiangshan", "zzb"))
    task_card = shared.text.split('id="task-XS-JZ-01"')[1].split("</li>")[0]
    assert "配合" in task_card
    assert "牵头单位上次报送 <b>60%</b>" in task_card
    assert "由牵头单位报送进展" in task_card
    lead = portal.client.get(portal.link("xiangshan", "tw"))
    assert "上次报送 <b>60%</b>" in lead.text.split('id="task-XS-JZ-01"')[1].split("</li>")[0]
