"""The installable product: the wheel, built from this checkout and installed in a fresh
virtual environment outside it, plays the demo and answers ``serve --help`` from another
folder, with nothing of the checkout on its path.

Offline: the wheel is built with this environment's setuptools (``--no-build-isolation``,
``--no-index``), and the fresh environment sees this one's site-packages through a ``.pth``
file instead of installing every dependency again. Slow (a build and the whole demo): CI
runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_demo import FIGURES, PROGRAMS

pytestmark = pytest.mark.slow

# What the wheel is built from: pyproject.toml and setup.py name nothing else.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "src", "flows", "templates", "examples")


def run(command: list[str | Path], *, timeout: float, **options: object) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **options,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the checkout: a build in place would leave build/ and
    *.egg-info in it."""
    from importlib.metadata import version

    setuptools = tuple(int(part) for part in version("setuptools").split(".")[:2])
    if setuptools < (70, 1):
        pytest.fail(
            f"building the wheel offline needs setuptools>=70.1 here, not {setuptools}: "
            "run scripts/setup --test"
        )
    source = work / "source"
    source.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=junk)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", work, source],
        timeout=300,
    )
    (wheel,) = work.glob("pilot_tracker-*.whl")
    return wheel


def fresh_environment(work: Path, wheel: Path) -> Path:
    """A new virtual environment holding the wheel; its ``bin`` folder."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    python = venv / "bin" / "python"
    # This environment's pip installs into that one, which sees only its own packages yet.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], timeout=300)
    # The dependencies, from this environment's site-packages (not the checkout, not an
    # editable install: a .pth file's paths are added, their own .pth files are not run).
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], timeout=60)
    shared = dict.fromkeys(
        path
        for path in [*sys.path, sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
        if Path(path).name == "site-packages" and Path(path).is_dir()
    )
    (Path(site.strip()) / "shared-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in shared), encoding="utf-8"
    )
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The fresh environment's ``bin`` folder, and an environment to run it in: no
    PYTHONPATH, no project settings, and the current folder outside the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    bin_folder = fresh_environment(work, build_wheel(work))
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV") and not name.startswith("PILOT_TRACKER_")
    }
    env["PATH"] = os.pathsep.join([str(bin_folder), env.get("PATH", "")])
    env["COLUMNS"] = "200"  # no line of the summary is wrapped
    return bin_folder, env


def test_the_wheel_holds_the_package_its_flows_templates_and_examples(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_folder, env = installed
    code = (
        "import flows, pilot_tracker\n"
        "from importlib.resources import files\n"
        "from pilot_tracker.settings import EXAMPLE_CITIES, EXAMPLE_PROGRAMS, PROJECT_TEMPLATES\n"
        "print(pilot_tracker.__file__, flows.__file__, PROJECT_TEMPLATES, EXAMPLE_PROGRAMS,"
        " files('pilot_tracker') / 'migrations' / 'env.py', EXAMPLE_CITIES, sep='\\n')\n"
    )
    found = run([bin_folder / "python", "-c", code], cwd=tmp_path, env=env, timeout=60)
    venv = bin_folder.parent.resolve()
    paths = [Path(line).resolve() for line in found.splitlines()]
    assert len(paths) == 6 and all(path.is_relative_to(venv) for path in paths), found
    assert (paths[2] / "alerts" / "reminder.txt.j2").is_file()
    assert (paths[2] / "reports" / "half_year.html.j2").is_file()
    assert (paths[2] / "portal" / "unit.html.j2").is_file()
    assert (paths[2] / "portal" / "static" / "portal.css").is_file()
    assert sorted(path.name for path in paths[3].glob("*.yaml")) == [
        "fenghua.yaml",
        "haishu.yaml",
        "xiangshan.yaml",
        "yinzhou.yaml",
    ]
    assert paths[4].is_file()
    assert sorted(path.name for path in paths[5].glob("*.yaml")) == ["ningbo.yaml"]


def test_the_installed_command_plays_the_demo_and_describes_serve(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_folder, env = installed
    command = bin_folder / "pilot-tracker"
    assert str(ROOT) not in command.read_text(encoding="utf-8").splitlines()[0]

    helped = run([command, "serve", "--help"], cwd=tmp_path, env=env, timeout=60)
    assert "Run the schedules of every loaded program" in helped

    output = tmp_path / "demo"
    played = run([command, "demo", "-o", output], cwd=tmp_path, env=env, timeout=900)
    # The same summary the demo prints from a checkout (tests/test_demo.py plays that one).
    assert "  129 working days, 59 report files" in played
    for line in FIGURES:
        assert line in played, played
    # 473 alerts, a receipt for each of the 18 mails three of Xiangshan's units sent its
    # office's mailbox (a 19th, an out-of-office answer, is read and never answered), and
    # the city's work bulletin to its league, its leader and the four districts' offices
    assert "  messages sent: 497, emails kept: 497 in " in played
    assert len(list((output / "mail").glob("*.eml"))) == 497
    assert "  mail in: 19 mails from units to the office's mailbox" in played
    assert "mail list --program xiangshan" in played
    assert len(list((output / "mail" / "replies").glob("*.eml"))) == 19
    assert "  city ningbo over 4 pilots (haishu, yinzhou, fenghua, xiangshan)" in played
    for program in PROGRAMS:
        base = output / "data" / "reports" / program / "2021H1" / f"{program}-2021H1-半年度评估"
        for suffix in (".html", ".pdf", ".xlsx", ".docx"):
            assert base.with_suffix(suffix).is_file(), base.with_suffix(suffix)
