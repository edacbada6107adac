"""The unit's report: the online form, and the upload of a filled submission workbook."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
