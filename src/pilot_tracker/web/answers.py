"""The unit's answers: its quarterly statement (confirm, dispute), its notices (签收), its
extension requests (延期申请)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
