"""One exception tree for the engine. Errors carry structured fields, never HTTP codes."""

from __future__ import annotations

from typing import Any


class LotseError(Exception):
    """Base of every error Lotse reports to a user."""

    code = "ERROR"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        out.update({k: v for k, v in self.fields.items() if v is not None})
        return out


class NotFound(LotseError):
    code = "NOT_FOUND"


class InstanceNotFound(NotFound):
    code = "INSTANCE_NOT_FOUND"


class TaskNotFound(NotFound):
    code = "TASK_NOT_FOUND"


class ProcessNotFound(NotFound):
    code = "PROCESS_NOT_FOUND"


class Conflict(LotseError):
    code = "CONFLICT"


class TaskNotOpen(Conflict):
    """The task was completed or cancelled already (double submit, stale page)."""

    code = "TASK_NOT_OPEN"


class TaskClaimedByOther(Conflict):
    code = "TASK_CLAIMED"


class InstanceNotRunning(Conflict):
    code = "INSTANCE_NOT_RUNNING"


class InstanceSuspended(Conflict):
    """An administrator suspended the instance (operations console / ``lotse instance``)."""

    code = "INSTANCE_SUSPENDED"


class NotYourOffice(LotseError):
    code = "NOT_YOUR_OFFICE"


class FormInvalid(LotseError):
    """Submitted data failed the task's form; ``errors`` maps field -> messages."""

    code = "VALIDATION_FAILED"

    def __init__(
        self, errors: dict[str, list[str]], message: str = "Eingaben sind ungültig"
    ) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class DeployError(LotseError):
    """A deployment was refused; ``problems`` lists file, element and problem."""

    code = "DEPLOY_REFUSED"

    def __init__(self, problems: list[dict[str, str | None]]) -> None:
        lines = [
            ": ".join(p for p in (pr.get("file"), pr.get("element"), pr.get("problem")) if p)
            for pr in problems
        ]
        super().__init__("; ".join(lines) or "deployment refused", problems=problems)
        self.problems = problems


class ScriptError(LotseError):
    """A script or expression failed or was refused by the sandbox."""

    code = "SCRIPT_ERROR"


class WorkflowDepthExceeded(LotseError):
    """The workflow grew deeper than SpiffWorkflow can iterate; refusing to report it completed."""

    code = "WORKFLOW_TOO_DEEP"


class InvalidInput(LotseError):
    code = "INVALID_INPUT"
