"""What an action made happen, for its notice (issue 15.5): the human tasks a completion
or a start opened, read from the worklist projection (``human_task``) around the call.

``open_tasks`` before the call and ``opened_since`` after it: the READY tasks of the case
(every instance with its case reference, so a referral's new process counts too) that
were not open before. Only task names (German, and the English form title where the
form has one) and office codes leave here, never case data."""

from __future__ import annotations

from sqlalchemy import or_, select

from engine.db import Database
from engine.models import HumanTask, ProcessInstance
from engine.read_model import form_file
from web.flashes import message, names, office

MAX_LISTED = 3  # a notice names at most this many next tasks, then "and N more"


def _scope(case_ref: str | None, instance_id: int | None):
    if case_ref:
        return HumanTask.case_ref == case_ref
    return HumanTask.instance_id == instance_id


def open_tasks(db: Database, *, case_ref: str | None, instance_id: int | None) -> set[str]:
    """Ids of the READY human tasks of the case (or of the instance without a case)."""
    if not case_ref and instance_id is None:
        return set()
    q = select(HumanTask.id).where(_scope(case_ref, instance_id), HumanTask.state == "READY")
    with db.reader() as s:
        return set(s.scalars(q))


def opened_since(db: Database, before: set[str], *, case_ref: str | None,
                 instance_id: int | None) -> list[dict]:
    """The READY tasks of the case not in ``before``, oldest first: ``name`` (de), ``title_en``
    (the form's English title, else None), ``office``; the started instance's own tasks
    count without a case reference too."""
    cond = _scope(case_ref, instance_id)
    if case_ref and instance_id is not None:
        cond = or_(cond, HumanTask.instance_id == instance_id)
    q = (select(HumanTask, ProcessInstance.definition_id)
         .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
         .where(cond, HumanTask.state == "READY")
         .order_by(HumanTask.created_at, HumanTask.id))
    with db.reader() as s:
        rows = [(ht.id, ht.name or ht.element_id, ht.office, ht.form, def_id)
                for ht, def_id in s.execute(q) if ht.id not in before]
    out = []
    for _id, name, office_code, form, def_id in rows:
        title_en = (form_file(db, def_id, form) or {}).get("x-title-en") if form else None
        out.append({"name": name, "title_en": title_en, "office": office_code})
    return out


def next_tasks_param(tasks: list[dict]) -> list[dict]:
    """The notice parameter naming ``tasks``: „Name“ bei Stelle, ..., und N weitere."""
    listed = [message("flash.task_at", name=names(t["name"], t["title_en"]),
                      office=office(t["office"])) for t in tasks[:MAX_LISTED]]
    if len(tasks) > MAX_LISTED:
        listed.append(message("flash.and_more", n=len(tasks) - MAX_LISTED))
    return listed
