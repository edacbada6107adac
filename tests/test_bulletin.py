"""The city's work bulletin (reports/bulletin.py) and the districts' accounts of their
practice (ledger/practice.py): an account read as sent and refused with its line where it
must be; the register's numbers (kept on a re-run, the next ones for the next period, from 1
in a new year, given outright); the files read back with the roll-up's figures and the
account verbatim and escaped; the outbox; and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from pilot_tracker import db
from pilot_tracker.errors import PracticeFileError, ProgramFileError, ReportError
from pilot_tracker.ledger import cities, practice
from pilot_tracker.ledger.city_file import BulletinSpec, parse_city_text
from pilot_tracker.models import BulletinIssue, Notification, Program
from pilot_tracker.reports import bulletin, city, documents
from pilot_tracker.reports.writing import sha256_of

from .city_fixtures import CITY, HOSTILE_UNIT, NOW, build_city, city_spec
from .test_city_report import cli, fake_pdf
from .test_reports import TEMPLATES, assert_self_contained, pdf_text, squeeze
from .word_layout import assert_official_layout

BULLETIN = {
    "name": "测试市共青团工作简报",
    "column": "经验交流",
    "distribution": ["各区县（市）团委", "市直属单位团组织"],
    "editor": "团市委办公室",
    "first_number": 6,
    "first_total": 165,
}
# The demo pilot's account: a headline, an opening paragraph, two with lead-ins, a heading;
# and what a careless or hostile office might send, printed as text.
HOSTILE = '<script>alert("x")</script> & =SUM(A1) {{ 7*7 }}'
ACCOUNT = f"""# 团演示县委：“挂图作战”推动试点落地

\u3000\u3000演示县围绕“六有”要求推进试点工作。

**一、建立专班机制。**团县委设立试点专班，实行季度对账。
**二、*注重*项目化推进。**{HOSTILE}

## 下一步工作

继续推进重点工程。
"""


def load_bulletin_city(engine: sa.Engine, section: dict[str, Any] | None = None) -> None:
    """The small city of tests/city_fixtures.py, with a bulletin."""
    spec = city_spec().model_copy(
        update={"bulletin": BulletinSpec.model_validate(section or BULLETIN)}
    )
    with db.session(engine) as session:
        cities.load_city(
            session=session,
            spec=spec,
            source_name="testcity.yaml",
            source_sha256="1" * 64,
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )


def load_account(engine: sa.Engine, program: str = "demo", text: str = ACCOUNT) -> None:
    with db.session(engine) as session:
        practice.load_account(
            session=session,
            program=program,
            period="2021H1",
            text=text,
            source_name=f"{program}-2021H1.md",
            now=NOW,
        )


# --- 1. an account as sent ------------------------------------------------------------------


def test_an_account_is_read_into_its_headline_and_paragraphs_verbatim() -> None:
    account = practice.parse(practice.normalised(ACCOUNT))
    assert account.title == "团演示县委：“挂图作战”推动试点落地"
    assert account.blocks == (
        practice.Block("演示县围绕“六有”要求推进试点工作。"),
        practice.Block("团县委设立试点专班，实行季度对账。", lead="一、建立专班机制。"),
        practice.Block(HOSTILE, lead="二、*注重*项目化推进。"),
        practice.Block("下一步工作", heading=True),
        practice.Block("继续推进重点工程。"),
    )


def test_a_text_file_without_a_headline_is_paragraphs_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.txt"
    path.write_bytes("第一段，有**星号**在中间。\r\n\r\n第二段。\r\n".encode("gbk"))
    account = practice.parse(practice.read_account_file(path))
    assert account.title == ""
    assert [block.text for block in account.blocks] == ["第一段，有**星号**在中间。", "第二段。"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("a.md", "# 标题\n正文\x07有响铃\n", "line 2, column 3: the character U+0007"),
        ("a.md", "正文\n倒序\u202e文字\n", "line 2, column 3: the character U+202E"),
        ("a.md", "\n  \n", "the account is empty"),
        ("a.md", "# " + "长" * 101 + "\n正文\n", "line 1: the headline has 101 characters"),
        ("a.md", "段\n" * (practice.MAX_LINES + 1), "2,001 lines, more than the 2,000"),
        ("a.docx", "正文\n", "an account is a text or Markdown file (.md, .markdown, .txt)"),
    ],
)
def test_an_account_is_refused_whole_with_the_place_of_each_problem(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PracticeFileError) as refused:
        practice.read_account_file(path)
    assert any(problem in str(found) for found in refused.value.problems), refused.value.problems


def test_an_account_too_large_or_not_text_is_refused_unparsed(tmp_path: Path) -> None:
    large = tmp_path / "large.md"
    large.write_bytes(b"a" * (practice.MAX_ACCOUNT_BYTES + 1))
    with pytest.raises(PracticeFileError, match="refused") as refused:
        practice.read_account_file(large)
    assert "262,145 bytes, more than the 262,144 allowed" in str(refused.value.problems[0])
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\xd8" * 20)
    with pytest.raises(PracticeFileError) as refused:
        practice.read_account_file(binary)
    assert "save it as UTF-8" in str(refused.value.problems[0])


def test_an_account_needs_a_loaded_pilot_that_runs_in_the_period(
    sqlite_engine: sa.Engine,
) -> None:
    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        with pytest.raises(ReportError, match="runs from 2022-01-01 to 2022-12-31, outside"):
            practice.load_account(
                session=session,
                program="later",
                period="2021H1",
                text="正文",
                source_name="",
                now=NOW,
            )
        with pytest.raises(ReportError, match="neither a quarter nor a half year"):
            practice.load_account(
                session=session,
                program="demo",
                period="2021-06",
                text="正文",
                source_name="",
                now=NOW,
            )


# --- 2. the register --------------------------------------------------------------------------


@pytest.fixture
def bulletin_city(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The small city with a bulletin, on each database; PDFs stand in (the module's
    fixture renders one)."""
    build_city(engine)
    load_bulletin_city(engine)
    monkeypatch.setattr(documents, "pdf", fake_pdf)
    return engine


def issue(engine: sa.Engine, home: Path, period: str, now: datetime, **given: Any) -> Any:
    with db.session(engine) as session:
        return bulletin.write(
            session=session,
            city=CITY,
            period=period,
            folder=home / period,
            home=home,
            templates=TEMPLATES,
            now=now,
            send=False,
            **given,
        )


def register(engine: sa.Engine) -> list[tuple[str, int, int, date]]:
    with db.session(engine) as session:
        return [
            (row.period, row.number, row.total, row.issued_on)
            for row in session.exec(select(BulletinIssue).order_by(col(BulletinIssue.total)))
        ]


def test_a_period_keeps_its_numbers_and_the_next_takes_the_next(
    bulletin_city: sa.Engine, tmp_path: Path
) -> None:
    first = issue(bulletin_city, tmp_path, "2021H1", NOW)
    assert (first.number, first.total) == (6, 165)  # the city file's first numbers
    word = first.files["docx"].read_bytes()
    # Written again a week later: the same issue, its numbers, date and bytes.
    again = issue(bulletin_city, tmp_path, "2021H1", datetime(2021, 7, 19, 3, tzinfo=UTC))
    assert (again.number, again.total) == (6, 165)
    assert again.files["docx"].read_bytes() == word
    autumn = issue(bulletin_city, tmp_path, "2021Q3", datetime(2021, 10, 11, 3, tzinfo=UTC))
    assert (autumn.number, autumn.total) == (7, 166)
    # A new year: 第1期 again, the run's number goes on.
    spring = issue(bulletin_city, tmp_path, "2021H2", datetime(2022, 1, 10, 3, tzinfo=UTC))
    assert (spring.number, spring.total) == (1, 167)
    assert register(bulletin_city) == [
        ("2021H1", 6, 165, date(2021, 7, 12)),
        ("2021Q3", 7, 166, date(2021, 10, 11)),
        ("2021H2", 1, 167, date(2022, 1, 10)),
    ]


def test_an_issues_numbers_may_be_given_but_not_twice(
    bulletin_city: sa.Engine, tmp_path: Path
) -> None:
    issue(bulletin_city, tmp_path, "2021H1", NOW)
    # The office's other issues came between: this one is 第9期, 总第170期.
    given = issue(
        bulletin_city,
        tmp_path,
        "2021Q3",
        datetime(2021, 10, 11, 3, tzinfo=UTC),
        number=9,
        total=170,
    )
    assert (given.number, given.total) == (9, 170)
    later = datetime(2021, 10, 12, 3, tzinfo=UTC)
    with pytest.raises(ReportError, match="总第165期 is the bulletin of 2021H1 already"):
        issue(bulletin_city, tmp_path, "2021Q3", later, total=165)
    with pytest.raises(ReportError, match="第6期 of 2021 is the bulletin of 2021H1 already"):
        issue(bulletin_city, tmp_path, "2021Q3", later, number=6)
    with pytest.raises(ReportError, match="--total 0 is out of range"):
        issue(bulletin_city, tmp_path, "2021Q3", later, total=0)
    assert register(bulletin_city)[-1] == ("2021Q3", 9, 170, date(2021, 10, 11))


def test_a_city_without_a_bulletin_is_told_what_to_add(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    build_city(sqlite_engine)
    with pytest.raises(ReportError, match="the city testcity has no bulletin: add a bulletin:"):
        issue(sqlite_engine, tmp_path, "2021H1", NOW)
    assert register(sqlite_engine) == []


def test_the_city_file_bounds_the_bulletin() -> None:
    text = (
        "code: c\nname: 市\noffice: 团市委办公室\nprograms: [a]\n"
        "bulletin:\n  name: 简报\n  first_number: 0\n  first_total: 100000\n  editor_name: x\n"
    )
    with pytest.raises(ProgramFileError) as refused:
        parse_city_text(text, "c.yaml")
    assert [str(problem) for problem in refused.value.problems] == [
        "bulletin.first_number (line 7): 0 is out of range; it must be at least 1",
        "bulletin.first_total (line 8): 100000 is out of range; it must be at most 99999",
        "bulletin.editor_name (line 9): unknown key; the keys here are: name, column, "
        "distribution, editor, first_number, first_total",
    ]


# --- 3. the files -----------------------------------------------------------------------------


@dataclass
class Written:
    engine: sa.Engine
    home: Path
    first: bulletin.BulletinWritten
    again: bulletin.BulletinWritten
    rollup: city.CityRollup


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    """The city's 2021H1 bulletin with the demo pilot's account and none from the other,
    written and sent, then written again (PDFs take seconds: once per module)."""
    home = tmp_path_factory.mktemp("bulletin-home")
    engine = db.make_engine(f"sqlite:///{home / 'ledger.db'}")
    db.migrate(engine)
    build_city(engine)
    load_bulletin_city(engine)
    load_account(engine)
    runs = []
    for now in (NOW, NOW.replace(hour=4)):
        with db.session(engine) as session:
            runs.append(
                bulletin.write(
                    session=session,
                    city=CITY,
                    period="2021H1",
                    folder=home / "reports" / "cities" / CITY / "2021H1",
                    home=home,
                    templates=TEMPLATES,
                    now=now,
                )
            )
    with db.session(engine) as session:
        rollup = city.rollup(session=session, city=CITY, period="2021H1")
    yield Written(engine, home, runs[0], runs[1], rollup)
    engine.dispose()


def test_word_and_pdf_are_written_and_kept_in_the_register(written: Written) -> None:
    first = written.first
    assert first.problems == []
    assert sorted(first.files) == ["docx", "html", "pdf"]
    assert {path.name for path in first.files.values()} == {
        f"testcity-2021H1-工作简报.{suffix}" for suffix in ("html", "pdf", "docx")
    }
    assert (first.number, first.total, first.without_account) == (6, 165, ["other"])
    assert [absent.code for absent in first.absent] == ["absent", "later"]
    with db.session(written.engine) as session:
        [row] = session.exec(select(BulletinIssue)).all()
        assert row.sha256 == {key: sha256_of(path) for key, path in first.files.items()}
        assert row.paths["docx"] == "reports/cities/testcity/2021H1/testcity-2021H1-工作简报.docx"


def figures_of(pilot: city.Pilot) -> list[str]:
    """What the bulletin must say of a pilot, from the roll-up's own figures."""
    lists = [
        f"完成{item.completed}/{item.tasks}项；已开始{pilot.on_plan_by_list[item.kind][0]}项，"
        f"按计划推进{pilot.on_plan_by_list[item.kind][1]}项"
        for item in pilot.evaluation.lists
        if item.kind in pilot.on_plan_by_list
    ]
    return [
        f"已开始任务{pilot.tasks_active}项",
        f"按计划推进{pilot.tasks_on_plan}项",
        f"{pilot.timeliness:g}%（按时{pilot.reports_timely}次/应报送{pilot.reports_owed}次）",
        *lists,
    ]


def test_each_article_has_the_roll_ups_figures(written: Written) -> None:
    pilots = {pilot.code: pilot for pilot in written.rollup.pilots}
    # As worked out by hand in tests/test_city_report.py.
    assert (pilots["demo"].tasks_on_plan, pilots["demo"].tasks_active) == (3, 5)
    assert (pilots["other"].reports_timely, pilots["other"].reports_owed) == (6, 18)
    document = docx.Document(str(written.first.files["docx"]))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(cell.text for t in document.tables for r in t.rows for cell in r.cells)
    page = written.first.files["html"].read_text(encoding="utf-8")
    pdf = pdf_text(written.first.files["pdf"])
    for pilot in pilots.values():
        for figure in figures_of(pilot):
            assert figure in text + cells, figure
            assert figure in page, figure
            assert squeeze(figure) in pdf, figure
    assert "2021年上半年，演示县试点已开始任务5项，已完成" in text
    assert "期末未结督办事项1件" in text  # the demo pilot's open urge


def test_the_masthead_contents_and_end_are_the_bulletins(written: Written) -> None:
    document = docx.Document(str(written.first.files["docx"]))
    shown = [p.text for p in document.paragraphs if p.text.strip()]
    assert shown[:5] == [
        "测试市共青团工作简报",
        "（经验交流）",
        "第6期",
        "（总第165期）",
        "共青团测试市委办公室\t2021年7月12日",
    ]
    assert shown[5:7] == [
        "◆ 团演示县委：“挂图作战”推动试点落地",
        "◆ 样例区试点2021年上半年推进情况",
    ]
    assert shown[-2:] == [
        "分送：各区县（市）团委、市直属单位团组织",
        "责任编辑：团市委办公室\t2021年7月12日印发",
    ]
    assert (
        "本期未刊登：absent（尚未导入本系统）；后续县中长期青年发展规划试点（试点期为"
        in "".join(shown)
    )
    masthead = document.paragraphs[1].runs[0]
    assert masthead.font.color.rgb is not None and str(masthead.font.color.rgb) == "FF0000"
    pdf = pdf_text(written.first.files["pdf"])
    for line in (
        "测试市共青团工作简报",
        "第6期",
        "（总第165期）",
        "分送：各区县（市）团委",
        "2021年7月12日印发",
    ):
        assert squeeze(line) in pdf, line


def test_the_word_bulletin_is_in_the_official_layout(written: Written) -> None:
    assert_official_layout(
        written.first.files["docx"],
        title=["团演示县委：“挂图作战”推动试点落地"],
        levels={1},
        printed_by="",
        last_line=r"责任编辑：团市委办公室\t2021年7月12日印发",
    )


def test_the_account_is_printed_verbatim_and_escaped(written: Written) -> None:
    document = docx.Document(str(written.first.files["docx"]))
    paragraphs = {p.text: p for p in document.paragraphs}
    lead = paragraphs["二、*注重*项目化推进。" + HOSTILE]
    assert [run.bold for run in lead.runs] == [True, None]
    assert "演示县围绕“六有”要求推进试点工作。" in paragraphs
    assert paragraphs["下一步工作"].style.name == "Heading 1"
    page = written.first.files["html"].read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; =SUM(A1) {{ 7*7 }}" in page
    assert squeeze(HOSTILE) in pdf_text(written.first.files["pdf"])
    # The other pilot sent none: its article has its figures alone, under its name.
    article = page.split('id="article-other"')[1].split("</article>")[0]
    assert "样例区试点2021年上半年推进情况" in article and "<p>" not in article.split("</table>")[1]
    assert HOSTILE_UNIT not in page  # no unit is named: the bulletin gives the pilot's figures


def test_the_same_period_and_data_give_the_same_bulletin(written: Written) -> None:
    for kind in ("html", "docx"):
        assert sha256_of(written.first.files[kind]) == sha256_of(written.again.files[kind]), kind


def test_the_city_league_and_each_pilots_office_get_it_once(written: Written) -> None:
    assert (written.first.queued, written.again.queued) == (4, 0)
    with db.session(written.engine) as session:
        ids = dict(session.exec(select(Program.code, Program.id)).all())
        sent = list(session.exec(select(Notification).order_by(col(Notification.id))).all())
        session.expunge_all()
    assert [(m.dedup_key, m.target, m.program_id) for m in sent] == [
        ("bulletin:testcity:2021H1:city", "city:testcity role:city", None),
        ("bulletin:testcity:2021H1:leader", "city:testcity role:leader", None),
        ("bulletin:testcity:2021H1:office:demo", "role:office", ids["demo"]),
        ("bulletin:testcity:2021H1:office:other", "role:office", ids["other"]),
    ]
    files = written.first.files
    for message in sent:
        assert message.subject == "【工作简报】测试市共青团工作简报第6期（总第165期）"
        assert message.attachments == [
            str(files[kind].relative_to(written.home)) for kind in ("pdf", "docx")
        ]
        assert "1. 团演示县委：“挂图作战”推动试点落地" in message.body


# --- 4. the command line ----------------------------------------------------------------------


@pytest.fixture
def bulletin_home(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli("init")
    engine = db.make_engine(f"sqlite:///{isolated_environment / 'pilot-tracker.db'}")
    build_city(engine)
    load_bulletin_city(engine)
    engine.dispose()
    monkeypatch.setattr(documents, "pdf", fake_pdf)
    return isolated_environment


def test_practice_load_list_and_remove(bulletin_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo-2021H1.md"
    path.write_text(ACCOUNT, encoding="utf-8")
    loaded = cli("practice", "load", "--program", "demo", "--half", "2021H1", path)
    assert loaded.stdout.strip() == (
        "demo 2021H1: loaded, 4 paragraphs, headline 团演示县委：“挂图作战”推动试点落地"
    )
    again = cli("practice", "load", "--program", "demo", "--half", "2021H1", path)
    assert again.stdout.startswith("demo 2021H1: unchanged")
    listed = json.loads(
        cli("practice", "list", "--city", CITY, "--half", "2021H1", "--json").stdout
    )
    assert [(row["program"], row["sent"]) for row in listed] == [
        ("demo", True),
        ("absent", False),
        ("other", False),
        ("later", False),
    ]
    cli("practice", "remove", "--program", "demo", "--half", "2021H1")
    gone = cli("practice", "remove", "--program", "demo", "--half", "2021H1", code=1)
    assert "the pilot demo has no account of its practice for 2021H1" in gone.stderr


def test_practice_load_refuses_a_bad_file_with_its_line(
    bulletin_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "demo.md"
    path.write_text("# 标题\n正文\x00\n", encoding="utf-8")
    refused = cli("practice", "load", "--program", "demo", "--half", "2021H1", path, code=1)
    assert "line 2, column 3: the character U+0000 has no place in a document" in refused.stderr
    assert "nothing was written" in refused.stderr
    listed = json.loads(
        cli("practice", "list", "--city", CITY, "--half", "2021H1", "--json").stdout
    )
    assert not any(row["sent"] for row in listed)


def test_report_bulletin_says_its_numbers_and_who_sent_no_account(
    bulletin_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "demo.md"
    path.write_text(ACCOUNT, encoding="utf-8")
    cli("practice", "load", "--program", "demo", "--half", "2021H1", path)
    done = cli("report", "bulletin", "--city", CITY, "--half", "2021H1")
    folder = bulletin_home / "reports" / "cities" / CITY / "2021H1"
    assert done.stdout.splitlines() == [
        "testcity 2021H1: 第6期 (总第165期)",
        "left out: absent (not loaded)",
        "left out: later (runs from 2022-01-01 to 2022-12-31, outside the period)",
        "no account of their practice from: other (their articles have the figures alone; "
        "load one with `pilot-tracker practice load`)",
        *(
            f"{kind}: {folder / f'testcity-2021H1-工作简报.{kind}'}"
            for kind in ("html", "pdf", "docx")
        ),
        "queued for delivery: 4 messages",
    ]
    quarter = json.loads(
        cli(
            "report", "bulletin", "--city", CITY, "--quarter", "2021Q2", "--no-send", "--json"
        ).stdout
    )
    assert (quarter["number"], quarter["total"], quarter["queued"]) == (7, 166, 0)
    listed = json.loads(cli("city", "bulletins", "--city", CITY, "--json").stdout)
    assert [(row["period"], row["number"], row["total"]) for row in listed] == [
        ("2021H1", 6, 165),
        ("2021Q2", 7, 166),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--city", "nowhere", "--half", "2021H1"], 'no city "nowhere"; loaded cities: testcity'),
        (["--city", CITY], "give the period as one of --half (e.g. 2021H1) or --quarter"),
        (["--city", CITY, "--half", "2030H1"], "2030H1 has not begun: today is"),
        (["--city", CITY, "--half", "2021H1", "--number", "0"], "--number 0 is out of range"),
    ],
)
def test_report_bulletin_refuses_clearly_and_writes_nothing(
    bulletin_home: Path, args: list[str], message: str
) -> None:
    done = cli("report", "bulletin", *args, code=1)
    assert message in done.stderr
    assert not (bulletin_home / "reports" / "cities").exists()
    assert json.loads(cli("city", "bulletins", "--city", CITY, "--json").stdout) == []


def test_report_bulletin_has_help_with_an_example() -> None:
    helped = cli("report", "bulletin", "--help")
    assert "Example: pilot-tracker report bulletin --city ningbo --half 2021H1" in helped.stdout
