"""Designer drafts without Flask: create, read, save, delete, and turn a draft into the files a
deployment (or ``lint_files``) reads.

A draft keeps the BPMN text exactly as it was last saved; an imported file stays byte for
byte what was uploaded (``bpmn.encode(encoding)``) until the modeler saves it again.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import PurePosixPath
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from sqlalchemy import select, update

from engine.bpmn_xml import UnsafeXml, count_model_elements, model_elements, parse_xml
from engine.deploy import BPMN_NS, BPMN_SUFFIXES, SourceFile
from engine.errors import Conflict, InvalidInput, LotseError, NotFound
from web.designer.models import Draft

MAX_BPMN_CHARS = 2_000_000
MAX_FILES = 200
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(json|dmn)")
PROCESS_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
_DECL_ENCODING = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
RESERVED_PROCESS_IDS = frozenset({"Start", "End", "Root"})


class DraftNotFound(NotFound):
    code = "DRAFT_NOT_FOUND"


class DraftChanged(Conflict):
    """The draft was saved by someone (or another tab) since it was loaded."""

    code = "DRAFT_CHANGED"


class ModelTooLarge(LotseError):
    """More model elements than a request may check (``Settings.max_model_elements``);
    the designer answers 413 (``web.designer.modeler``)."""

    code = "MODEL_TOO_LARGE"
    http_status = 413

    def __init__(self, elements: int, limit: int, file: str | None = None) -> None:
        super().__init__(f"Das Modell hat {elements} BPMN-Elemente; höchstens {limit} werden "
                         "in einer Anfrage geprüft (LOTSE_MAX_MODEL_ELEMENTS) / the model has "
                         f"{elements} BPMN elements; at most {limit} may be checked in one "
                         "request", elements=elements, limit=limit, file=file)
        self.elements, self.limit, self.file = elements, limit, file


def check_model_size(files: list[SourceFile], limit: int | None) -> None:
    """Refuse (``ModelTooLarge``) BPMN/DMN files with more than ``limit`` model elements
    together (``engine.bpmn_xml.model_elements``), before lint or import check spend time
    on them. Unreadable files count 0: the checks report them."""
    if limit is None:
        return
    total, name = 0, None
    for f in files:
        if f.name.lower().endswith((*BPMN_SUFFIXES, ".xml", ".dmn")):
            total += count_model_elements(f.content) or 0
            name = name or f.name
    if total > limit:
        raise ModelTooLarge(total, limit, name)


# ------------------------------------------------------------------------------ template
def new_bpmn(name: str, process_id: str) -> str:
    """An executable process in a pool with one lane (not yet bound) and a start event."""
    n = quoteattr(name)
    pid = quoteattr(process_id)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" \
xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_{escape(process_id)}" \
targetNamespace="https://lotse.example/bpmn/{escape(process_id)}" \
exporter="Lotse designer" exporterVersion="1">
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_1" name={n} processRef={pid} />
  </bpmn:collaboration>
  <bpmn:process id={pid} name={n} isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_1">
      <bpmndi:BPMNShape id="Participant_1_di" bpmnElement="Participant_1" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="900" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_1_di" bpmnElement="Lane_1" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="870" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="202" y="167" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def check_process_id(process_id: str) -> str:
    pid = (process_id or "").strip()
    if not PROCESS_ID_RE.fullmatch(pid) or pid in RESERVED_PROCESS_IDS:
        raise InvalidInput(
            "process id: 1-100 characters, letters, digits and _ . -, starting with a letter",
            field="process_id",
        )
    return pid


# ------------------------------------------------------------------------------ reading XML
def declared_encoding(text: str) -> str:
    m = _DECL_ENCODING.match(text)
    return m.group(1) if m else "UTF-8"


def parse_bpmn_text(text: object) -> tuple[etree._ElementTree, str]:
    """Parse BPMN text (safe XML, BPMN 2.0 definitions); (tree, declared encoding). ``text``
    may be any value of a JSON body: what is not a non-empty string is refused."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the BPMN document is empty", field="xml")
    if len(text) > MAX_BPMN_CHARS:
        raise InvalidInput("the BPMN document is too large", field="xml")
    encoding = declared_encoding(text)
    try:
        content = text.encode(encoding)
    except LookupError:
        raise InvalidInput(f"unknown encoding '{encoding}' in the XML declaration",
                           field="xml") from None
    except UnicodeEncodeError:
        raise InvalidInput(f"the text cannot be written as {encoding}", field="xml") from None
    try:
        tree = parse_xml(content)
    except UnsafeXml as exc:
        raise InvalidInput(str(exc), field="xml") from None
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"not well-formed XML (line {exc.lineno}): {exc.msg}",
                           field="xml") from None
    root = tree.getroot()
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidInput("not a BPMN 2.0 document (the root must be bpmn:definitions)",
                           field="xml")
    return tree, encoding


def main_process(tree: etree._ElementTree) -> tuple[str | None, str | None]:
    """(id, name) of the first executable process, else of the first process."""
    procs = list(tree.getroot().iterfind(f"{{{BPMN_NS}}}process"))
    if not procs:
        return None, None
    chosen = next((p for p in procs if p.get("isExecutable") == "true"), procs[0])
    name = " ".join((chosen.get("name") or "").split()) or None
    if name is None:
        part = tree.getroot().find(
            f"{{{BPMN_NS}}}collaboration/{{{BPMN_NS}}}participant[@processRef='{chosen.get('id')}']"
        ) if chosen.get("id") and "'" not in chosen.get("id") else None
        if part is not None:
            name = " ".join((part.get("name") or "").split()) or None
    return chosen.get("id"), name


def check_files(files) -> dict[str, str]:
    """Companion files: {name.json|name.dmn: text}."""
    if files is None:
        return {}
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        raise InvalidInput("files must be an object {file name: text}", field="files")
    out = {}
    for name, text in files.items():
        if not isinstance(name, str) or not FILE_NAME_RE.fullmatch(name):
            raise InvalidInput(
                f"file name {str(name)[:80]!r}: letters, digits, . _ - and .json or .dmn",
                field="files")
        if not isinstance(text, str) or len(text) > MAX_BPMN_CHARS:
            raise InvalidInput(f"file {name}: the content must be text", field="files")
        out[name] = text
    return dict(sorted(out.items()))


# ------------------------------------------------------------------------------ rows
def _dict(d: Draft, *, full: bool = True) -> dict:
    out = {
        "id": d.id,
        "name": d.name,
        "process_id": d.process_id,
        "bpmn_name": d.bpmn_name,
        "encoding": d.encoding,
        "origin": d.origin,
        "source": d.source,
        "revision": d.revision,
        "created_by": d.created_by,
        "created_at": d.created_at,
        "updated_by": d.updated_by,
        "updated_at": d.updated_at,
        "deployed_version": d.deployed_version,
        "deployed_at": d.deployed_at,
        "import_status": (d.import_report or {}).get("status"),
    }
    if full:
        out.update(xml=d.bpmn, files=dict(d.files or {}), import_report=d.import_report)
    return out


def create(db, *, name: str, bpmn: str, bpmn_name: str, origin: str, actor: str | None,
           now: datetime, files: dict | None = None, source: str | None = None,
           import_report: dict | None = None) -> int:
    tree, encoding = parse_bpmn_text(bpmn)
    pid, pname = main_process(tree)
    with db.unit_of_work() as s:
        d = Draft(name=(name or pname or pid or bpmn_name)[:300], process_id=pid,
                  bpmn_name=bpmn_name[:300], bpmn=bpmn, encoding=encoding,
                  files=check_files(files), origin=origin, source=source,
                  import_report=import_report, revision=1, created_by=actor, created_at=now,
                  updated_by=actor, updated_at=now)
        s.add(d)
        s.flush()
        return d.id


def get(db, draft_id: int) -> dict:
    with db.reader() as s:
        d = s.get(Draft, draft_id)
        if d is None:
            raise DraftNotFound(f"draft {draft_id} does not exist", draft_id=draft_id)
        return _dict(d)


def list_drafts(db) -> list[dict]:
    with db.reader() as s:
        rows = s.scalars(select(Draft).order_by(Draft.updated_at.desc(), Draft.id.desc()))
        return [_dict(d, full=False) for d in rows]


def save(db, draft_id: int, *, bpmn: object, files, revision, actor: str | None,
         now: datetime, max_elements: int | None = None) -> dict:
    """Store new content; refuse it when the draft changed since ``revision`` was read, and
    when it has more than ``max_elements`` model elements (``ModelTooLarge``)."""
    tree, encoding = parse_bpmn_text(bpmn)
    if max_elements is not None:
        elements = model_elements(tree.getroot())
        if elements > max_elements:
            raise ModelTooLarge(elements, max_elements)
    files = check_files(files)
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise InvalidInput("revision must be the number the draft was loaded with",
                           field="revision")
    pid, pname = main_process(tree)
    with db.unit_of_work() as s:
        d = s.get(Draft, draft_id)
        if d is None:
            raise DraftNotFound(f"draft {draft_id} does not exist", draft_id=draft_id)
        values = dict(bpmn=bpmn, encoding=encoding, files=files, process_id=pid,
                      revision=revision + 1, updated_by=actor, updated_at=now)
        if pname:
            values["name"] = pname[:300]
        if pid and d.origin == "new" and d.bpmn_name != f"{pid}.bpmn":
            values["bpmn_name"] = f"{pid}.bpmn"
        res = s.execute(update(Draft).where(Draft.id == draft_id, Draft.revision == revision)
                        .values(**values))
        if res.rowcount != 1:
            raise DraftChanged(
                f"the draft was saved elsewhere since you loaded it (now revision {d.revision})",
                revision=d.revision)
    return {"id": draft_id, "revision": revision + 1, "process_id": pid,
            "saved_at": now.isoformat()}


def delete(db, draft_id: int) -> None:
    with db.unit_of_work() as s:
        d = s.get(Draft, draft_id)
        if d is None:
            raise DraftNotFound(f"draft {draft_id} does not exist", draft_id=draft_id)
        s.delete(d)


def mark_deployed(db, draft_id: int, version: int, now: datetime) -> None:
    with db.unit_of_work() as s:
        s.execute(update(Draft).where(Draft.id == draft_id)
                  .values(deployed_version=version, deployed_at=now))


def source_files(draft: dict) -> list[SourceFile]:
    """What ``lint_files`` and ``Engine.deploy_files`` read for this draft."""
    return files_for(draft["bpmn_name"], draft["xml"], draft.get("files") or {})


def files_for(bpmn_name: str, xml: str, files: dict[str, str]) -> list[SourceFile]:
    encoding = declared_encoding(xml)
    try:
        content = xml.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        content = xml.encode("utf-8")
    out = [SourceFile(bpmn_name, content)]
    out.extend(SourceFile(n, t.encode("utf-8")) for n, t in sorted(files.items()))
    return out


# ------------------------------------------------------------------------------ versions
def from_version(db, process_id: str, version: int, *, actor: str | None,
                 now: datetime) -> int:
    """A draft holding the BPMN and form files of a deployed version."""
    from engine.versions import _definition

    with db.reader() as s:
        d = _definition(s, process_id, version)
        sources = dict(d.source_files)
        name = d.name or process_id
    main = None
    for fname, text in sorted(sources.items()):
        if not fname.lower().endswith(".bpmn"):
            continue
        try:
            tree = parse_xml(text.encode("utf-8"))
        except (UnsafeXml, etree.XMLSyntaxError):
            continue
        if any(p.get("id") == process_id
               for p in tree.getroot().iterfind(f"{{{BPMN_NS}}}process")):
            main = fname
            break
    if main is None:
        raise InvalidInput(f"version {version} of '{process_id}' has no BPMN file of its own")
    files = {PurePosixPath(n).name: t for n, t in sources.items()
             if n.lower().endswith((".json", ".dmn"))}
    text = sources[main]
    if declared_encoding(text).lower().replace("-", "") != "utf8":
        # deploy stored the text decoded; the declaration must now say what it is
        text = _DECL_ENCODING.sub(lambda m: m.group(0).replace(m.group(1), "UTF-8"), text, 1)
    return create(db, name=name, bpmn=text, bpmn_name=PurePosixPath(main).name,
                  origin="version", actor=actor, now=now, files=files,
                  source=f"{process_id} v{version}")


def empty_form(title: str) -> str:
    """A starter JSON Schema for a user task's form."""
    return json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "required": ["bemerkung"],
        "properties": {
            "bemerkung": {"type": "string", "title": "Bemerkung", "x-title-en": "Remark",
                          "maxLength": 2000},
        },
    }, ensure_ascii=False, indent=2)
