"""The error tree: every error a user can see is a PilotTrackerError, defined in errors.py,
and maps to one exit code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import pilot_tracker
from pilot_tracker import errors


def public_exceptions() -> list[tuple[str, type[BaseException]]]:
    found = []
    for module in pkgutil.walk_packages(pilot_tracker.__path__, "pilot_tracker."):
        if module.name.startswith("pilot_tracker.migrations"):
            continue  # Alembic's scripts run only under Alembic
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.name
                and not name.startswith("_")
            ):
                found.append((module.name, value))
    return found


def test_every_public_exception_is_in_the_tree_in_errors_py() -> None:
    found = public_exceptions()
    assert found, "the walk finds the tree itself"
    outside = [f"{module}.{error.__name__}" for module, error in found if module != errors.__name__]
    assert outside == []
    assert all(issubclass(error, errors.PilotTrackerError) for _, error in found)


def test_the_tree_is_drawn_in_the_docstring() -> None:
    for _, error in public_exceptions():
        if error is not errors.Refusal:  # a mix-in of the refused-whole errors
            assert error.__name__ in (errors.__doc__ or ""), error.__name__


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.ProgramFileError("a.yaml", []), errors.EXIT_ERROR),
        (errors.NotFoundError("no program"), errors.EXIT_ERROR),
        (errors.SourceRefused("refused"), errors.EXIT_ERROR),
        (errors.CellError("不是数字"), errors.EXIT_ERROR),
        (errors.ConfigurationError("PILOT_TRACKER_TIMEZONE"), errors.EXIT_CONFIGURATION),
        (PermissionError(13, "Permission denied", "/x"), errors.EXIT_CONFIGURATION),
        (errors.DatabaseError("no database"), errors.EXIT_DATABASE),
        (KeyError("a bug"), errors.EXIT_BUG),
        (ValueError("a bug"), errors.EXIT_BUG),
    ],
)
def test_each_error_has_its_exit_code(error: Exception, code: int) -> None:
    assert errors.exit_code(error) == code


def test_the_exit_codes_are_distinct() -> None:
    codes = [
        errors.EXIT_OK,
        errors.EXIT_ERROR,
        errors.EXIT_USAGE,
        errors.EXIT_CONFIGURATION,
        errors.EXIT_DATABASE,
        errors.EXIT_BUG,
    ]
    assert len(set(codes)) == len(codes)
