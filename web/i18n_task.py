"""Texts of the task page's case facts (issue 15.0): (German, English)."""

from __future__ import annotations

MESSAGES_TASK_CASE: dict[str, tuple[str, str]] = {
    "task.person": ("Person", "Person"),
}
