"""Every field of a case belongs to a data category (issue 14): each field of every shipped
form, every data key the shipped processes write (script assignments, message variables,
message payload keys, data outputs, multi-instance items, decision outputs) is an envelope
key, a container ([containers]) or a field declared under [fields] in
processes/data_protection.toml - nothing falls to the "unknown: CM_NOTES" fallback."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from defusedxml import ElementTree

from processes.dataprotection import ENVELOPE, Policy

ROOT = Path(__file__).resolve().parents[2] / "bpmn"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
POLICY = Policy.load()


class _Stores(ast.NodeVisitor):
    """Names a script leaves in task data: every name it binds at the top level (loop
    variables too), not inside functions, lambdas or comprehensions; an ``except ... as``
    name is unbound at the end of its block and a deleted name is gone."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.deleted: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)
        elif isinstance(node.ctx, ast.Del):
            self.deleted.add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.names.add(node.name)  # a function is callable: the sandbox drops it

    def _skip(self, node: ast.AST) -> None:
        return None

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = _skip
    visit_GeneratorExp = _skip


def _script_names(text: str) -> set[str]:
    v = _Stores()
    v.visit(ast.parse(text))
    return v.names - v.deleted


def _schema_fields(schema: dict, *, container: bool = False) -> set[str]:
    """Field names of a form object schema, with conditional parts (allOf/anyOf/oneOf,
    if/then/else, dependencies); inside a container key its own keys count too."""
    out: set[str] = set()
    if not isinstance(schema, dict):
        return out
    for key, node in (schema.get("properties") or {}).items():
        out.add(key)
        if key in POLICY.containers and isinstance(node, dict):
            out |= _schema_fields(node, container=True)
    for comb in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(comb) or []:
            out |= _schema_fields(part, container=container)
    for part in ("if", "then", "else"):
        if isinstance(schema.get(part), dict):
            out |= _schema_fields(schema[part], container=container)
    for dep in (schema.get("dependencies") or {}).values():
        out |= _schema_fields(dep, container=container) if isinstance(dep, dict) else set()
    return out


def _payload_keys(text: str) -> set[str]:
    """String keys of the dict literals of a message payload expression (nested ones too,
    as a message variable that is a container opens them)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {k.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def shipped_keys() -> dict[str, set[str]]:
    """key -> where it comes from, over every shipped form, process and decision."""
    found: dict[str, set[str]] = {}

    def add(names, where: str) -> None:
        for n in names:
            if n and not n.startswith("_"):
                found.setdefault(n, set()).add(where)

    for f in sorted(ROOT.rglob("*.bpmn")):
        where = f"{f.parent.name}/{f.name}"
        for el in ElementTree.parse(str(f)).getroot().iter():
            text = (el.text or "").strip()
            if el.tag in (f"{BPMN}script", f"{SPIFF}preScript", f"{SPIFF}postScript") and text:
                add(_script_names(text), f"{where} script")
            elif el.tag == f"{SPIFF}messageVariable" and text:
                add([text], f"{where} message variable")
            elif el.tag == f"{SPIFF}messagePayload" and text:
                add(_payload_keys(text), f"{where} message payload")
            elif el.tag == f"{BPMN}dataOutput":
                add([el.get("name")], f"{where} data output")
            elif el.tag in (f"{BPMN}loopDataOutputRef", f"{BPMN}loopDataInputRef"):
                add([text], f"{where} multi-instance")
            elif el.tag in (f"{BPMN}inputDataItem", f"{BPMN}outputDataItem"):
                add([el.get("name") or el.get("id")], f"{where} multi-instance")
    for f in sorted(ROOT.rglob("*-schema.json")):
        add(_schema_fields(json.loads(f.read_text(encoding="utf-8"))),
            f"{f.parent.name}/{f.name} form")
    for f in sorted(ROOT.rglob("*.dmn")):
        for el in ElementTree.parse(str(f)).getroot().iter():
            if el.tag.endswith("}output"):
                add([el.get("name")], f"{f.parent.name}/{f.name} decision output")
    return found


def test_the_walk_finds_what_the_processes_write():
    keys = shipped_keys()
    # a form field, a script assignment, a message variable, a payload key, a decision output
    for key in ("office_reference", "received_at", "withdrawal", "ack_at", "suggested_process",
                "documents_missing", "notes_for_cm", "child_first_name"):
        assert key in keys, key
    assert len(keys) > 300


def test_every_field_of_every_shipped_form_and_process_has_a_category():
    unclassified = {k: sorted(w)[:2] for k, w in sorted(shipped_keys().items())
                    if k not in ENVELOPE and k not in POLICY.containers
                    and k not in POLICY.fields}
    assert not unclassified, (
        f"{len(unclassified)} keys without a category in processes/data_protection.toml: "
        f"{unclassified}")


def test_referral_data_need_no_consent_and_free_text_goes_at_pseudonymisation(tmp_path):
    from processes.dataprotection import DataProtectionConfigError
    from processes.retention import Pseudonymiser

    assert POLICY.category_of("office_reference") == "REFERRAL"
    assert POLICY.label("REFERRAL") == "Vermittlungsvorgang"
    assert POLICY.referral_data_for("case_manager") == {"REFERRAL"}
    assert POLICY.referral_data_for("referral_office") == {"REFERRAL"}
    assert not any("REFERRAL" in cats for cats in POLICY.purposes.values())
    # referral data are kept, their free text (notes_for_cm, reasons) is not (brief 5.6)
    out = Pseudonymiser(POLICY)({"office_reference": "AZ-1", "notes_for_cm": "Termin",
                                 "rejection_reason": "fehlende Mitwirkung",
                                 "documents_missing": ["Mietvertrag"]})
    assert out == {"office_reference": "AZ-1", "documents_missing": []}
    path = tmp_path / "dp.toml"
    path.write_text('[categories]\nIDENT = { de = "Identität" }\nREFERRAL = { de = "V" }\n'
                    '[fields]\nx = "IDENT"\n[purposes]\n"A:B" = ["IDENT", "REFERRAL"]\n'
                    '[referral_data]\ncategory = "REFERRAL"\nseen_by = ["somebody"]\n'
                    '[free_text]\nfields = ["y"]\n', encoding="utf-8")
    with pytest.raises(DataProtectionConfigError) as exc:
        Policy.load(path)
    text = str(exc.value)
    assert "purpose A:B" in text and "unknown viewer somebody" in text
    assert "free_text y" in text
