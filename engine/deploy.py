"""Deploy BPMN/DMN/form files: parse, validate, and store a new version when content changed.

Every refusal names the file, the element and the problem; nothing is stored
unless the whole deployment is valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import data_paths, store
from engine import forms as engine_forms
from engine import serialization as ser
from engine.bpmn_xml import UnsafeXml, parse_xml
from engine.errors import DeployError
from engine.models import AuditEvent, ProcessDefinition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/", "http://www.omg.org/spec/DMN/")
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
# BPMN files: ".bpmn" and the ".bpmn20.xml" that Camunda, Flowable and Activiti write
BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")
SOURCE_SUFFIXES = (*BPMN_SUFFIXES, ".dmn", ".json")
FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"
# SpiffWorkflow names internal task specs so; a BPMN element with the same id breaks the spec.
RESERVED_IDS = frozenset({"Start", "End", "Root"})

LaneResolver = Callable[[str | None, str | None], str | None]


@dataclass
class SourceFile:
    name: str
    content: bytes


@dataclass
class PreparedProcess:
    process_id: str
    name: str | None
    spec_body: str
    spec_hash: str
    content_hash: str
    source_files: dict[str, str]
    lane_offices: dict[str, str]
    start_messages: list[str]


@dataclass
class DeployOutcome:
    process_id: str
    version: int
    changed: bool
    definition_id: int
    # the file is an earlier version (this one) of a process that has a newer version:
    # nothing was deployed, ``version`` is the newer one that stays current
    older_version: int | None = None


@dataclass
class _Problems:
    items: list[dict[str, str | None]] = field(default_factory=list)

    def add(self, file: str | None, element: str | None, problem: str) -> None:
        self.items.append({"file": file, "element": element, "problem": problem})


def collect_files(paths: Iterable[str | Path]) -> list[SourceFile]:
    """Read BPMN, DMN and JSON form files from files and folders (recursively)."""
    out: list[SourceFile] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(SOURCE_SUFFIXES)
            )
            out.extend(SourceFile(str(f.relative_to(p.parent)), f.read_bytes()) for f in found)
        elif p.is_file():
            out.append(SourceFile(p.name, p.read_bytes()))
        else:
            raise DeployError(
                [{"file": str(p), "element": None, "problem": "no such file or folder"}]
            )
    return out


class _LaneAwareProcessParser(SpiffBpmnParser.PROCESS_PARSER_CLASS):
    """Lets an element inside an embedded subprocess have its own lane.

    SpiffWorkflow gives every child of a subprocess the subprocess's lane, so an escalation
    task drawn in the coordinator's lane inside a waiting subprocess would land in the case
    manager's queue. Here a child listed in a lane gets that lane; others inherit.
    """

    def __init__(self, *args, lane=None, **kwargs):
        super().__init__(*args, lane=lane, **kwargs)
        self.parent_lane = lane
        self.lane = None

    def get_lane_name(self, node_id):
        name = super().get_lane_name(node_id)
        return name if name is not None else self.parent_lane

    def _index_process_nodes(self):
        """SpiffWorkflow's index of the elements with an id, by one walk over the subtree.

        SpiffWorkflow selects them with the XPath ``.//*[@id]``, which libxml2 evaluates in
        quadratic time from any element but the document root (2.2 s for a process with
        20,000 ids, over 10 s for 40,000; issue 16.6). Same elements, same order."""
        for node in self.node.iterdescendants():
            if not isinstance(node.tag, str):
                continue  # comments, processing instructions
            node_id = node.get("id")
            if node_id is None:
                continue
            self.nodes_by_id[node_id] = node
            if node.tag.endswith("sequenceFlow"):
                self.outgoing_sequence_flows.setdefault(node.get("sourceRef"), []).append(node)
            elif node.tag.endswith("boundaryEvent"):
                self.boundary_events_by_attached.setdefault(
                    node.get("attachedToRef"), []).append(node)
            elif node.tag.endswith("dataObjectReference"):
                self.data_object_references[node_id] = node
            elif node.tag.endswith("dataStoreReference"):
                self.data_store_references[node_id] = node


# SpiffWorkflow's node parsers look up messages, signals, errors, escalations and data
# references with one XPath over the whole document per element (``doc_xpath``); with many
# message events that is quadratic (issue 16.6). ``_IndexedLookups`` answers exactly these
# queries from an index built once per document (``_LotseParser.elements_by_id``).
_BY_ID_XPATH = re.compile(r"""^\.//bpmn:(\w+)\[@id=(["'])([^"']*)\2\]$""")


class _IndexedLookups:
    def doc_xpath(self, xpath):
        match = _BY_ID_XPATH.match(xpath)
        owner = getattr(self, "process_parser", None)
        parser = getattr(owner, "parser", None) if owner is not None else None
        if match is None or not isinstance(parser, _LotseParser):
            return super().doc_xpath(xpath)
        index = parser.elements_by_id(self.node.getroottree().getroot())
        return list(index.get((match.group(1), match.group(3)), ()))


class _DecisionRefParser(BusinessRuleTaskParser):
    """A business rule task names its decision with ``spiffworkflow:calledDecisionId`` or,
    in files from the Camunda 7 modeler, with the ``camunda:decisionRef`` attribute."""

    @staticmethod
    def get_decision_ref(node):
        return BusinessRuleTaskParser.get_decision_ref(node) or node.get(
            f"{{{CAMUNDA_NS}}}decisionRef"
        )


class _LotseParser(SpiffBpmnParser):
    """Spiff parser that resolves lanes to office codes and keeps document roots alive.

    SpiffWorkflow 3.2 caches lanes by ``id(root)``; a freed root's id can be reused by the
    next document, which then silently gets another document's (or no) lanes. Keeping every
    root referenced makes the ids unique for the parser's lifetime.
    """

    PROCESS_PARSER_CLASS = _LaneAwareProcessParser
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        f"{{{BPMN_NS}}}businessRuleTask": (_DecisionRefParser, BusinessRuleTask),
    }

    def __init__(self, resolve_lane: LaneResolver, problems: _Problems) -> None:
        super().__init__()
        self._roots: list = []
        self._resolve_lane = resolve_lane
        self._problems = problems
        self.lane_offices: dict[str, str] = {}
        self._by_id: dict[int, dict[tuple[str, str], list]] = {}
        self._indexed_classes: dict[type, type] = {}

    def _get_parser_class(self, tag):
        node_parser, spec_class = super()._get_parser_class(tag)
        if node_parser is None:
            return node_parser, spec_class
        indexed = self._indexed_classes.get(node_parser)
        if indexed is None:
            indexed = type(node_parser.__name__, (_IndexedLookups, node_parser), {})
            self._indexed_classes[node_parser] = indexed
        return indexed, spec_class

    def elements_by_id(self, root) -> dict[tuple[str, str], list]:
        """(BPMN local name, id) -> elements below ``root`` in document order; built once per
        document (roots stay referenced in ``_roots``, so ``id(root)`` is unique)."""
        key = id(root)
        index = self._by_id.get(key)
        if index is None:
            index = {}
            prefix = f"{{{BPMN_NS}}}"
            for el in root.iterdescendants(f"{prefix}*"):
                eid = el.get("id")
                if eid is not None:
                    index.setdefault((el.tag[len(prefix):], eid), []).append(el)
            self._by_id[key] = index
            if not any(r is root for r in self._roots):
                self._roots.append(root)
        return index

    def add_bpmn_xml(self, bpmn, filename=None):
        self._roots.append(bpmn.getroot() if hasattr(bpmn, "getroot") else bpmn)
        self._current_file = filename
        super().add_bpmn_xml(bpmn, filename)

    def _add_diagram_indexes(self, bpmn):
        key = self._document_key(bpmn)
        if key in self.document_lanes:
            return
        # SpiffWorkflow's own version selects flowNodeRefs and shapes by XPath over the
        # document, which grows faster than the model; the lanes it collects are replaced
        # below anyway, so only the shape positions are taken here, in one walk.
        positions = {}
        root = bpmn.getroot() if hasattr(bpmn, "getroot") else bpmn
        for shape in root.iter(f"{{{BPMNDI_NS}}}BPMNShape"):
            node_id = shape.get("bpmnElement")
            bounds = next(shape.iter(f"{{{DC_NS}}}Bounds"), None)
            if node_id is not None and bounds is not None:
                positions[node_id] = {"x": float(bounds.get("x", 0)),
                                      "y": float(bounds.get("y", 0))}
        self.document_positions[key] = positions
        lanes: dict[str, str | None] = {}
        for lane in bpmn.xpath(".//bpmn:lane", namespaces=self.namespaces):
            name = lane.get("name")
            prop = lane.xpath(
                "./bpmn:extensionElements//*[local-name()='property'][@name='office']/@value",
                namespaces=self.namespaces,
            )
            dynamic = lane.xpath(
                "./bpmn:extensionElements//*[local-name()='property']"
                f"[@name='{data_paths.OFFICE_FROM}']/@value",
                namespaces=self.namespaces,
            )
            process = next(lane.iterancestors(f"{{{BPMN_NS}}}process"), None)
            executable = process is not None and process.get("isExecutable") == "true"
            if dynamic:  # the office is read from the task data at run time (data_paths)
                why = data_paths.lane_problem(prop[0] if prop else None, dynamic[0])
                if why is not None:
                    self._problems.add(self._current_file, lane.get("id"),
                                       f"lane '{name or ''}': {why}")
                    continue
                office: str | None = data_paths.lane_marker(dynamic[0].strip())
            else:
                office = self._resolve_lane(name, prop[0] if prop else None)
            if office is None:
                if executable:
                    self._problems.add(
                        self._current_file,
                        lane.get("id"),
                        f"lane '{name or ''}' resolves to no office (set the office property, "
                        "or name the lane with an office code or German office name)",
                    )
                continue
            self.lane_offices[name or lane.get("id")] = office
            for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=self.namespaces):
                if ref.text:
                    lanes[ref.text.strip()] = office
        self.document_lanes[key] = lanes


def prepare(
    files: list[SourceFile],
    *,
    resolve_lane: LaneResolver,
    catalogue_sources: Callable[[str], dict[str, str] | None] = lambda _pid: None,
    check_expression: Callable[[str], str | None],
    check_script: Callable[[str], str | None],
    check_form: Callable[[dict], str | None],
    linted: list | None = None,
    rules: Sequence = (),
) -> list[PreparedProcess]:
    """Parse and validate a deployment; raise DeployError listing every problem.

    One rule set: every error ``engine.lint`` reports for these files refuses the deployment
    with the lint's message (``lint.deploy_errors``: all but the modeler's "user task names
    no form"), and so does every problem found while building the specs. ``linted``: those
    errors when the caller has just linted the same files (``lint.lint_report``). ``rules``:
    the rule sets (``lint.RuleSet``) the lint runs besides the engine's, e.g. KIM's."""
    from engine.lint import deploy_errors  # lint builds on this module's parser

    if linted is None:
        linted = deploy_errors(files, resolve_lane=resolve_lane, rules=rules)
    problems = _Problems()
    parser = _LotseParser(resolve_lane, problems)
    trees: dict[str, etree._ElementTree] = {}
    forms: dict[str, str] = {}
    texts: dict[str, str] = {}
    executable: list[tuple[str, str | None, str]] = []
    for f in files:
        base = PurePosixPath(f.name).name
        if f.name.lower().endswith(".json"):
            try:
                text = f.content.decode("utf-8")
                engine_forms.load_form(text)
            except UnicodeDecodeError:
                problems.add(f.name, None, "form file is not UTF-8 encoded")
                continue
            except ValueError as exc:
                problems.add(f.name, None, str(exc))
                continue
            if base in forms and forms[base] != text:
                problems.add(f.name, None, f"two different form files named '{base}'")
            forms[base] = text
            continue
        try:
            tree = parse_xml(f.content)
        except UnsafeXml as exc:
            problems.add(f.name, None, str(exc))
            continue
        except etree.XMLSyntaxError as exc:
            problems.add(f.name, None, f"malformed XML (line {exc.lineno}): {exc.msg}")
            continue
        ns = etree.QName(tree.getroot()).namespace or ""
        try:
            if ns.startswith(DMN_NAMESPACES):
                parser.add_dmn_xml(tree.getroot(), filename=f.name)
            elif ns == BPMN_NS:
                for el in tree.getroot().iter():
                    if isinstance(el.tag, str) and el.get("id") in RESERVED_IDS:
                        problems.add(
                            f.name,
                            el.get("id"),
                            "element id is reserved by the engine; rename it (e.g. StartEvent_1)",
                        )
                parser.add_bpmn_xml(tree, filename=f.name)
                for proc in tree.getroot().iterfind(f"{{{BPMN_NS}}}process"):
                    if proc.get("isExecutable") == "true":
                        executable.append((proc.get("id"), proc.get("name"), f.name))
            else:
                problems.add(f.name, None, "neither a BPMN 2.0 nor a DMN document")
                continue
        except ValidationException as exc:
            problems.add(f.name, getattr(exc, "id", None) or None,
                         _validation_message(exc, [tree]))
            continue
        trees[f.name] = tree
        try:
            texts[f.name] = f.content.decode(tree.docinfo.encoding or "utf-8")
        except (LookupError, UnicodeDecodeError):
            problems.add(f.name, None, f"cannot read the file as {tree.docinfo.encoding}")
    if not executable and not problems.items:
        problems.add(None, None, 'no executable process (isExecutable="true") in the deployment')
    _add_called_from_catalogue(parser, trees, catalogue_sources, texts, problems, forms)
    if problems.items:  # the specs cannot be built; lint errors are added to the reasons
        raise DeployError(_with_lint(problems, linted))

    out: list[PreparedProcess] = []
    dangling = {f.file for f in linted if f.rule == "reference-missing"}
    for pid, name, fname in executable:
        if fname in dangling:
            continue  # SpiffWorkflow would trip over the reference with an unrelated message
        try:
            spec = parser.get_spec(pid)
            subs = parser.get_subprocess_specs(pid)
        except ValidationException as exc:
            problems.add(
                getattr(exc, "file_name", None) or fname,
                getattr(exc, "id", None) or pid,
                _validation_message(exc, trees.values()),
            )
            continue
        except Exception as exc:  # noqa: BLE001 - Spiff raises assorted errors for broken models
            problems.add(fname, pid,
                         f"cannot build process: {spiff_message(exc, trees.values())}")
            continue
        used_forms: dict[str, str] = {}
        for s in [spec, *subs.values()]:
            _check_spec(
                s, fname, forms, used_forms, problems, check_expression, check_script, check_form
            )
        body = ser.spec_to_body(spec, subs)
        spec_files = {getattr(sp, "file", None) for sp in [spec, *subs.values()]}
        spec_files |= {n for n in texts if n.lower().endswith(".dmn")}
        sources = {n: texts[n] for n in sorted(texts) if n in spec_files}
        sources.update(used_forms)
        content = ser.dumps({"spec": ser.sha256(body), "forms": used_forms})
        out.append(
            PreparedProcess(
                pid,
                name,
                body,
                ser.sha256(body),
                ser.sha256(content),
                sources,
                dict(parser.lane_offices),
                _start_messages(spec),
            )
        )
    if problems.items or linted:
        raise DeployError(_with_lint(problems, linted))
    return out


def _with_lint(problems: _Problems, linted) -> list[dict[str, str | None]]:
    """The build's problems and every lint error; where the lint explains an element, its
    message replaces what the build (often SpiffWorkflow) said about the same element."""
    flagged = {(f.file, f.element) for f in linted}
    items = [p for p in problems.items
             if p["element"] is None or (p["file"], p["element"]) not in flagged]
    seen = {(p["file"], p["element"], p["problem"]) for p in items}
    for f in linted:
        if (f.file, f.element, f.message) not in seen:
            items.append({"file": f.file, "element": f.element, "problem": f.message})
            seen.add((f.file, f.element, f.message))
    return items


def _start_messages(spec) -> list[str]:
    names = []
    for ts in getattr(spec, "bpmn_start_events", None) or []:
        ed = getattr(ts, "event_definition", None)
        if isinstance(ed, MessageEventDefinition):
            names.append(ed.name)
    return sorted(names)


def _validation_message(exc: ValidationException, trees=()) -> str:
    msg = spiff_message(exc, trees)
    line = getattr(exc, "line_number", "")
    return f"{msg} (line {line})" if line else msg


_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-fA-F]+>")
_ASSOCIATION = re.compile(r"^Cannot resolve (data(?:Input|Output)Association) .*")


def spiff_message(exc: Exception, trees: Iterable[etree._ElementTree] = ()) -> str:
    """SpiffWorkflow's message in Lotse's words: one line, no lxml element reprs, the
    element type where SpiffWorkflow leaves it out, the value where it has one."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    tag = getattr(exc, "tag", "") or ""
    eid = getattr(exc, "id", "") or ""
    if text.rstrip(".").endswith("tasks of type"):
        text = f"{text.rstrip('.')} {tag or 'this task'}: split the flows after it with a gateway"
    match = _ASSOCIATION.match(text)
    if match:
        refs = [
            (r.text or "").strip()
            for t in trees
            for el in t.getroot().iter()
            if isinstance(el.tag, str) and el.get("id") == eid
            for r in el.iter(f"{{{BPMN_NS}}}sourceRef", f"{{{BPMN_NS}}}targetRef")
        ]
        shown = ", ".join(f"'{r}'" for r in refs if r) or "an element"
        text = (
            f"{match.group(1)} of '{eid}' refers to {shown}, which is no data object, data "
            "input or data output of the process"
        )
    if text.startswith("Time Specification Error"):
        values = [
            (v.text or "").strip()
            for t in trees
            for el in t.getroot().iter()
            if isinstance(el.tag, str) and el.get("id") == eid
            for v in el.iter(f"{{{BPMN_NS}}}timeDate", f"{{{BPMN_NS}}}timeDuration",
                              f"{{{BPMN_NS}}}timeCycle")
        ]
        text = (
            f"timer of '{eid}' has no usable value ({', '.join(repr(v) for v in values) or 'none'}"
            '): give timeDate, timeDuration or timeCycle a quoted ISO 8601 value, e.g. "P5D"'
        )
    text = _ELEMENT_REPR.sub(lambda m: f"bpmn:{m.group(1)}", text)
    if not isinstance(exc, ValidationException) and exc.__class__.__name__ not in text:
        text = f"{exc.__class__.__name__}: {text}"
    return text[:500]


def _add_called_from_catalogue(parser, trees, catalogue_sources, texts, problems,
                               forms) -> None:
    known = set(parser.get_process_ids())
    pending = [
        (fname, ca.get("id"), ca.get("calledElement"))
        for fname, tree in trees.items()
        for ca in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity")
    ]
    while pending:
        fname, elem, called = pending.pop()
        if not called or called in known:
            continue
        sources = catalogue_sources(called)
        if not sources:
            problems.add(
                fname,
                elem,
                f"calls process '{called}', which is neither in this deployment nor deployed",
            )
            continue
        for sname, text in sources.items():
            if sname.lower().endswith(".json"):
                forms.setdefault(PurePosixPath(sname).name, text)  # the called process's forms
                continue
            if not sname.lower().endswith((*BPMN_SUFFIXES, ".dmn")) or sname in texts:
                continue
            tree = parse_xml(text.encode("utf-8"))
            ns = etree.QName(tree.getroot()).namespace or ""
            if ns == BPMN_NS:
                parser.add_bpmn_xml(tree, filename=sname)
                pending.extend(
                    (sname, ca.get("id"), ca.get("calledElement"))
                    for ca in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity")
                )
            else:
                parser.add_dmn_xml(tree.getroot(), filename=sname)
            texts[sname] = text
        known = set(parser.get_process_ids())


def _check_spec(
    spec, fname, forms, used_forms, problems, check_expression, check_script, check_form
) -> None:
    for ts in spec.task_specs.values():
        if getattr(ts, "bpmn_id", None) is None:
            continue
        elem = ts.bpmn_id

        def expr(text, what, _elem=elem):
            if text is None:
                return
            err = check_expression(text)
            if err:
                problems.add(fname, _elem,
                             f"{what} does not compile: {err} - in {text.strip()[:120]!r}")

        script = getattr(ts, "script", None)
        if script:
            err = check_script(script)
            if err:
                problems.add(fname, elem, f"script does not compile: {err}")
        ext = getattr(ts, "extensions", None) or {}
        for key in ("preScript", "postScript"):
            if ext.get(key):
                err = check_script(ext[key])
                if err:
                    problems.add(fname, elem, f"{key} does not compile: {err}")
        for cond, _target in getattr(ts, "cond_task_specs", None) or []:
            args = getattr(cond, "args", None)
            expr(args[0] if args else cond, "condition")
        ed = getattr(ts, "event_definition", None)
        if isinstance(ed, TimerEventDefinition):
            expr(ed.expression, "timer expression")
        elif ed is not None and getattr(ed, "expression", None):
            expr(ed.expression, "message payload expression")
        for attr in ("cardinality", "condition"):
            value = getattr(ts, attr, None)
            if isinstance(value, str):
                expr(value, f"multi-instance {attr}")
        props = ext.get("properties") or {}
        if props.get("due"):
            expr(props["due"], "due date expression")
        if isinstance(ed, MessageEventDefinition) and not ed.name:
            problems.add(fname, elem, _NO_MESSAGE_NAME)
        if getattr(ts, "manual", False) and ts.lane is None:
            kind = _TASK_KINDS.get(type(ts).__name__, "task")
            problems.add(fname, elem, f"{kind} is in no lane, so no office would see it")
        if getattr(ts, "manual", False) or isinstance(ts, StartEvent):
            # user tasks and start events (the start form validates start data) keep their form
            form = props.get(FORM_PROPERTY)
            if form:
                # a template (``p0-eingang-{office}-schema.json``, data_paths) brings every
                # form it can resolve to; its generic form must be there
                why = (data_paths.template_problem(PurePosixPath(form).name)
                       if data_paths.is_template(form) else None)
                if why is not None:
                    problems.add(fname, elem, f"form {why}")
                    continue
                base = PurePosixPath(form).name
                generic = data_paths.fallback(base)
                if generic not in forms:
                    problems.add(fname, elem, f"form file '{form}' is not in the deployment"
                                 if generic == base else f"form file '{generic}' (the generic "
                                 f"form of '{form}') is not in the deployment")
                    continue
                for name in data_paths.candidates(base, forms):
                    text = forms[name]
                    try:
                        err = check_form(engine_forms.load_form(text))
                    except ValueError as exc:
                        err = str(exc)
                    if err:
                        problems.add(name, elem,
                                     f"form '{name}' is not a valid JSON Schema: {err}")
                    used_forms[name] = text
                ui = props.get(UI_PROPERTY)
                if ui:
                    for name in data_paths.candidates(PurePosixPath(ui).name, forms):
                        used_forms[name] = forms[name]


_NO_MESSAGE_NAME = (
    "message event names no message (messageRef to a bpmn:message with a name): "
    "it could never be sent or received"
)
_TASK_KINDS = {"UserTask": "user task", "ManualTask": "manual task", "NoneTask": "task"}


def store_prepared(
    session: Session, prepared: list[PreparedProcess], *, actor: str | None, now: datetime,
    force: bool = False,
) -> list[DeployOutcome]:
    """Store each prepared process as a new version unless its content is unchanged.

    A file whose content is an *earlier* version of the process (``lotse deploy bpmn/``
    after a designer deployed an edited version from the modeler) is not deployed again:
    the newer version stays current and the outcome names both. ``force`` deploys it as a
    new version anyway (a deliberate rollback)."""
    out = []
    for p in prepared:
        latest = session.scalar(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == p.process_id)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        )
        if latest is not None and latest.content_hash == p.content_hash:
            out.append(DeployOutcome(p.process_id, latest.version, False, latest.id))
            continue
        if latest is not None and not force:
            earlier = session.scalar(
                select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_id == p.process_id,
                    ProcessDefinition.content_hash == p.content_hash))
            if earlier is not None:
                out.append(DeployOutcome(p.process_id, latest.version, False, latest.id,
                                         older_version=earlier))
                continue
        store.store_spec(session, p.spec_hash, p.spec_body)
        version = (
            session.scalar(
                select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_id == p.process_id
                )
            )
            or 0
        ) + 1
        d = ProcessDefinition(
            process_id=p.process_id,
            version=version,
            name=p.name,
            content_hash=p.content_hash,
            spec_hash=p.spec_hash,
            source_files=p.source_files,
            lane_offices=p.lane_offices,
            deployed_at=now,
            deployed_by=actor,
            start_messages=p.start_messages,
        )
        session.add(d)
        session.flush()
        session.add(
            AuditEvent(
                at=now,
                event_type="process.deployed",
                actor=actor,
                definition_id=d.id,
                details={
                    "process_id": p.process_id,
                    "version": version,
                    "content_hash": p.content_hash,
                },
            )
        )
        out.append(DeployOutcome(p.process_id, version, True, d.id))
    return out
