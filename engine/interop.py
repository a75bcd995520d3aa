"""Import check for a .bpmn file written by another tool (Signavio, ARIS, ADONIS, Camunda ...).

``inspect_import`` never raises. It answers one of

* ``refused`` - the file cannot be opened at all (empty, too large, malformed XML, DOCTYPE or
  entity declarations, not a BPMN 2.0 document); ``reasons`` says why;
* ``view_only`` - a valid BPMN model that Lotse would not run as it is (no executable process,
  lanes without an office, Camunda/JUEL expressions, unsupported elements, SpiffWorkflow
  parser errors ...); ``reasons`` lists each problem;
* ``executable`` - the file would deploy as it is.

The XML handed to the modeler is the file as given (``xml`` decoded with the document's own
encoding; ``xml.encode(encoding)`` gives back the exact bytes), so vendor extension elements
and attributes survive a round trip untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from lxml import etree

from engine import data_paths, forms, sandbox
from engine.bpmn_xml import UnsafeXml, parse_xml
from engine.deploy import (
    BPMN_NS,
    DMN_NAMESPACES,
    LaneResolver,
    SourceFile,
    prepare,
)
from engine.errors import DeployError
from engine.lint import ACTIVITIES, ERROR, lint_report

MAX_BYTES = 20 * 1024 * 1024
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
STANDARD_NAMESPACES = frozenset(
    {
        BPMN_NS,
        BPMNDI_NS,
        "http://www.omg.org/spec/DD/20100524/DC",
        "http://www.omg.org/spec/DD/20100524/DI",
        "http://www.w3.org/2001/XMLSchema-instance",
        "http://www.w3.org/2001/XMLSchema",
        "http://www.w3.org/XML/1998/namespace",
    }
)


def _refused(name: str, reason: str) -> dict:
    return {
        "name": name,
        "status": "refused",
        "reasons": [reason],
        "processes": [],
        "has_diagram": False,
        "xml": None,
        "encoding": None,
        "extensions": [],
        "findings": [],
    }


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_bpmn(el, name: str) -> bool:
    return isinstance(el.tag, str) and el.tag == f"{{{BPMN_NS}}}{name}"


def inspect_import(
    name: str,
    content: bytes,
    *,
    resolve_lane: LaneResolver,
    catalogue_sources: Callable[[str], dict[str, str] | None] | None = None,
    rules: Sequence = (),
) -> dict:
    """Open ``content`` (a .bpmn file named ``name``) and say whether and how Lotse can use it.

    Returns ``{"status": "executable"|"view_only"|"refused", "reasons": [...],
    "processes": [{"id", "name", "executable", "lanes": [{"name", "office"}],
    "tasks": [{"id", "name", "type", "lane"}]}], "has_diagram": bool, "xml": str|None,
    "encoding": str|None, "extensions": [namespace, ...], "findings": [lint finding, ...]}``.
    """
    try:
        return _inspect(name, content, resolve_lane, catalogue_sources, tuple(rules))
    except Exception as exc:  # noqa: BLE001 - an import check must never fail with a traceback
        return _refused(
            name, f"the file could not be read ({exc.__class__.__name__}: {_norm(str(exc))[:300]})"
        )


def _inspect(name, content, resolve_lane, catalogue_sources, rules=()) -> dict:
    if not isinstance(content, bytes | bytearray):
        return _refused(name, "no file content")
    content = bytes(content)
    if not content.strip():
        return _refused(name, "the file is empty")
    if len(content) > MAX_BYTES:
        return _refused(name, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        tree = parse_xml(content)
    except UnsafeXml as exc:
        return _refused(name, f"{exc}; export the model again without a DOCTYPE")
    except etree.XMLSyntaxError as exc:
        return _refused(name, f"not well-formed XML (line {exc.lineno}): {_norm(exc.msg)}")
    root = tree.getroot()
    q = etree.QName(root)
    ns = q.namespace or ""
    if ns.startswith(DMN_NAMESPACES):
        return _refused(
            name,
            "this is a DMN decision model, not a BPMN process model; deploy it "
            "together with the process that calls the decision",
        )
    if ns != BPMN_NS or q.localname != "definitions":
        return _refused(
            name,
            f"not a BPMN 2.0 document: the root element is '{q.localname}' in "
            f"namespace '{ns or 'none'}' (expected 'definitions' in {BPMN_NS})",
        )
    encoding = tree.docinfo.encoding or "UTF-8"
    try:
        xml = content.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return _refused(name, f"the file does not match its declared encoding '{encoding}'")

    processes = [_process_info(p, resolve_lane) for p in root if _is_bpmn(p, "process")]
    has_diagram = any(len(plane) > 0 for plane in root.iter(f"{{{BPMNDI_NS}}}BPMNPlane"))
    used: set[str] = set()
    for el in root.iter():
        if isinstance(el.tag, str):
            used.add(etree.QName(el).namespace or "")
            used.update(etree.QName(a).namespace or "" for a in el.attrib)
    extensions = sorted(used - STANDARD_NAMESPACES - {""})

    reasons: list[str] = []
    if not processes:
        participants = [p for p in root.iter(f"{{{BPMN_NS}}}participant")]
        what = (
            f"a collaboration of {len(participants)} pool(s) without process content"
            if participants
            else "no process"
        )
        reasons.append(f"the file contains {what}: there is nothing to run")
    elif not any(p["executable"] for p in processes):
        ids = ", ".join(p["id"] for p in processes)
        reasons.append(
            f'no process is marked executable (isExecutable="true"): {ids} '
            "is a documentation model; mark it executable in the modeler once "
            "lanes, forms and conditions are set"
        )
    findings, refusing = lint_report([SourceFile(name, content)], resolve_lane=resolve_lane,
                                     rules=rules)
    if any(p["executable"] for p in processes):
        for f in findings:
            if f.severity == ERROR and f.rule != "no-executable-process":
                reasons.append(_reason(f.element, f.message))
        # deploy would lint the same file again: hand it this run's errors (same file name)
        same = PurePosixPath(name).name == name
        seen = set(reasons)  # a set: with thousands of reasons a list lookup was quadratic
        for r in _deploy_problems(name, content, resolve_lane, catalogue_sources,
                                  refusing if same else None, rules):
            if r not in seen:
                reasons.append(r)
                seen.add(r)
    elif processes:
        # not executable: say which SpiffWorkflow would refuse anyway (parser errors)
        for f in findings:
            if f.rule == "bpmn-invalid":
                reasons.append(
                    _reason(f.element, f"SpiffWorkflow cannot read the model: {f.message}")
                )
    status = "view_only" if reasons else "executable"
    return {
        "name": name,
        "status": status,
        "reasons": reasons,
        "processes": processes,
        "has_diagram": has_diagram,
        "xml": xml,
        "encoding": encoding,
        "extensions": extensions,
        "findings": [f.to_dict() for f in findings],
    }


def _reason(element: str | None, message: str) -> str:
    message = _norm(message)
    return f"{element}: {message}" if element and element not in message else message


def _deploy_problems(name, content, resolve_lane, catalogue_sources, linted=None,
                     rules=()) -> list[str]:
    """What a deployment of the file alone would refuse (empty when it would deploy)."""
    try:
        prepare(
            [SourceFile(PurePosixPath(name).name, content)],
            resolve_lane=resolve_lane,
            catalogue_sources=catalogue_sources or (lambda _pid: None),
            check_expression=sandbox.check_expression,
            check_script=sandbox.check_script,
            check_form=lambda schema: forms.check_schema(schema),
            linted=linted,
            rules=rules,
        )
    except DeployError as exc:
        return [_reason(p.get("element"), p.get("problem") or "") for p in exc.problems]
    except UnicodeDecodeError:
        return [
            "Lotse stores BPMN files as UTF-8 text: save the file as UTF-8 (it is not UTF-8 "
            "now) before deploying"
        ]
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises assorted errors
        return [
            f"SpiffWorkflow cannot build the process: {exc.__class__.__name__}: "
            f"{_norm(str(exc))[:300]}"
        ]
    return []


def _process_info(proc, resolve_lane: LaneResolver) -> dict:
    lanes: list[dict] = []
    node_lane: dict[str, tuple[str, int]] = {}
    for lane in proc.iter(f"{{{BPMN_NS}}}lane"):
        lane_name = _norm(lane.get("name")) or lane.get("id")
        prop = lane.xpath(
            "./*[local-name()='extensionElements']//*[local-name()='property']"
            "[@name='office']/@value"
        )
        dynamic = lane.xpath(
            "./*[local-name()='extensionElements']//*[local-name()='property']"
            f"[@name='{data_paths.OFFICE_FROM}']/@value"
        )
        if dynamic:  # resolved from the task data at run time (engine.data_paths)
            office = (None if data_paths.lane_problem(prop[0] if prop else None, dynamic[0])
                      else data_paths.lane_marker(dynamic[0].strip()))
        else:
            try:
                office = resolve_lane(lane.get("name"), prop[0] if prop else None)
            except Exception:  # noqa: BLE001 - a resolver must not break the import check
                office = None
        lanes.append({"id": lane.get("id"), "name": lane_name, "office": office})
        depth = sum(1 for _a in lane.iterancestors(f"{{{BPMN_NS}}}lane"))
        for ref in lane:
            if _is_bpmn(ref, "flowNodeRef") and ref.text:
                key = ref.text.strip()
                if key not in node_lane or node_lane[key][1] <= depth:
                    node_lane[key] = (lane_name, depth)
    tasks = []
    for el in proc.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        if _local(el) not in ACTIVITIES:
            continue
        lane = None
        node = el
        while node is not None and lane is None and not _is_bpmn(node, "process"):
            hit = node_lane.get(node.get("id") or "")
            lane = hit[0] if hit else None
            node = node.getparent()
        tasks.append(
            {
                "id": el.get("id"),
                "name": _norm(el.get("name")) or None,
                "type": _local(el),
                "lane": lane,
            }
        )
    return {
        "id": proc.get("id"),
        "name": _norm(proc.get("name")) or None,
        "executable": proc.get("isExecutable") == "true",
        "lanes": lanes,
        "tasks": tasks,
    }


__all__ = ["inspect_import"]
