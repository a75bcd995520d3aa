"""Import check over the interop corpus (../shared/bpmn-interop beside the repository):
every file gives a clear outcome, none raises; vendor extensions survive as given."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from engine.interop import inspect_import
from engine.models import ProcessDefinition
from processes.offices import OfficeRegistry
from tests import bpmn_builder as B
from tests.conftest import ROOT

CORPUS = ROOT.parent / "shared" / "bpmn-interop"
VENDORS = ("reference", "signavio", "aris", "adonis")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
REGISTRY = OfficeRegistry.load()


def _corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*/*.bpmn"))
    if not files:
        if os.environ.get("CI"):
            pytest.fail(f"interop corpus missing at {CORPUS} (expected ../shared/bpmn-interop)")
        pytest.skip(f"interop corpus not found at {CORPUS}")
    return files


def _check(name: str, content: bytes) -> dict:
    return inspect_import(name, content, resolve_lane=REGISTRY.resolve_lane)


def test_corpus_is_complete():
    files = _corpus_files()
    assert {p.parent.name for p in files} == set(VENDORS)
    assert len(files) >= 80


def test_every_corpus_file_gives_a_clear_outcome():
    outcomes: dict[str, dict[str, int]] = {}
    for path in _corpus_files():
        out = _check(path.name, path.read_bytes())
        assert out["status"] in ("executable", "view_only", "refused"), path
        if out["status"] != "executable":
            assert out["reasons"], path
            assert all(
                isinstance(r, str) and r.strip() and "Traceback" not in r for r in out["reasons"]
            ), path
        if out["status"] != "refused":
            assert out["has_diagram"], path  # every corpus file carries a diagram
            assert out["processes"] or out["reasons"], path
            for p in out["processes"]:
                assert set(p) == {"id", "name", "executable", "lanes", "tasks"}
                for lane in p["lanes"]:
                    assert lane["name"] and (lane["office"] is None or lane["office"] in REGISTRY)
                for t in p["tasks"]:
                    assert set(t) == {"id", "name", "type", "lane"} and t["id"]
        json.dumps(out)  # what the web layer returns must be JSON
        counts = outcomes.setdefault(path.parent.name, {})
        counts[out["status"]] = counts.get(out["status"], 0) + 1
    assert set(outcomes) == set(VENDORS)


def test_corpus_reasons_are_specific():
    """Spot checks: the kinds of reasons a designer sees for files from other tools."""
    files = {f"{p.parent.name}/{p.name}": p for p in _corpus_files()}

    def reasons(key):
        return " | ".join(_check(files[key].name, files[key].read_bytes())["reasons"])

    assert "no process is marked executable" in reasons("signavio/A.1.0-export.bpmn")
    assert "Data Store" in reasons("aris/B.1.0-export.bpmn")
    c10 = reasons("reference/C.1.0.bpmn")
    assert "resolves to no office" in c10 and "does not compile" in c10  # lanes, JUEL ${...}
    assert "not quoted" in reasons("signavio/C.9.1-export.bpmn")  # timer "P7D" unquoted


def test_vendor_extensions_survive_byte_for_byte():
    """The modeler gets the file as given: same bytes, every extension element and attribute."""
    checked = set()
    for path in _corpus_files():
        content = path.read_bytes()
        out = _check(path.name, content)
        if out["status"] == "refused":
            continue
        assert out["xml"].encode(out["encoding"]) == content, path
        original = etree.fromstring(content)
        returned = etree.fromstring(out["xml"].encode(out["encoding"]))
        assert _extensions(returned) == _extensions(original), path
        if _extensions(original)[1]:
            checked.add(path.parent.name)
        used = {
            etree.QName(x).namespace
            for e in original.iter()
            if isinstance(e.tag, str)
            for x in [e, *e.attrib]
        }
        assert set(out["extensions"]) >= {ns for ns in used if _foreign(ns)}, path
    assert {"signavio", "adonis"} <= checked


def _foreign(ns: str | None) -> bool:
    return bool(ns) and "omg.org" not in ns and "w3.org" not in ns


def _extensions(root) -> tuple[int, int]:
    """(extensionElements count, vendor elements + vendor attributes count)."""
    ext = sum(1 for _e in root.iter(f"{{{BPMN_NS}}}extensionElements"))
    vendor = 0
    for e in root.iter():
        if isinstance(e.tag, str):
            vendor += _foreign(etree.QName(e).namespace)
            vendor += sum(_foreign(etree.QName(a).namespace) for a in e.attrib)
    return ext, vendor


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<bpmn:definitions><oops></bpmn:definitions>", "not well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
            "DOCTYPE",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;">]><l>&b;</l>',
            "DOCTYPE",
        ),
        (b'<Package xmlns="http://www.wfmc.org/2008/XPDL2.1"/>', "not a BPMN 2.0 document"),
        (
            b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process/>',
            "not well-formed XML",
        ),
        (b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>', "DMN"),
        (b'<process xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "root element"),
        (
            b'<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="urn:x">\xff</definitions>',
            "not well-formed XML",
        ),
    ],
)
def test_refused_with_a_specific_message(content, expected):
    out = _check("upload.bpmn", content)
    assert out["status"] == "refused"
    assert len(out["reasons"]) == 1 and expected in out["reasons"][0]


def test_collaboration_without_process_is_view_only():
    doc = (
        f'<definitions xmlns="{BPMN_NS}" id="d"><collaboration id="c">'
        '<participant id="p1" name="Amt"/><participant id="p2" name="Bürger"/>'
        "</collaboration></definitions>"
    ).encode()
    out = _check("pools.bpmn", doc)
    assert out["status"] == "view_only" and "2 pool(s)" in out["reasons"][0]
    assert out["processes"] == [] and out["has_diagram"] is False


def test_never_raises_even_if_the_lane_resolver_fails():
    def broken(_name, _prop):
        raise RuntimeError("registry down")

    out = inspect_import("x.bpmn", B.loop_process().encode(), resolve_lane=broken)
    assert out["status"] in ("view_only", "refused") and out["reasons"]


# ------------------------------------------------------------------------------ executable
def _lotse_model(pid: str = "imported") -> str:
    """A Lotse-ready model as another tool would export it: with vendor extensions."""
    body = (
        '<bpmn:startEvent id="Ev_Start"/><bpmn:manualTask id="Task_Work" name="Akte prüfen" '
        'signavio:uuid="abc-123"><bpmn:extensionElements><signavio:signavioMetaData '
        'metaKey="bgcolor" metaValue="#ffffcc"/></bpmn:extensionElements></bpmn:manualTask>'
        '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Task_Work")
        + B.flow("F2", "Task_Work", "Ev_End")
    )
    doc = B.process(pid, {"Jobcenter": ["Ev_Start", "Task_Work", "Ev_End"]}, body)
    return doc.replace(
        "xmlns:spiffworkflow=", 'xmlns:signavio="http://www.signavio.com" xmlns:spiffworkflow=', 1
    )


def test_lotse_ready_file_is_executable_with_lanes_and_tasks():
    out = _check("imported.bpmn", _lotse_model().encode())
    assert out["status"] == "executable", out["reasons"]
    assert out["reasons"] == []
    (p,) = out["processes"]
    assert p["executable"] and p["lanes"] == [{"id": "Lane_0", "name": "Jobcenter", "office": "JC"}]
    assert p["tasks"] == [
        {"id": "Task_Work", "name": "Akte prüfen", "type": "manualTask", "lane": "Jobcenter"}
    ]
    assert "http://www.signavio.com" in out["extensions"]


def test_executable_process_with_problems_is_view_only_with_each_reason():
    doc = (
        _lotse_model()
        .replace('name="Jobcenter"', 'name="Hausmeister"')
        .replace(B.flow("F2", "Task_Work", "Ev_End"), B.flow("F2", "Task_Work", "Ev_End", "${ok}"))
    )
    out = _check("imported.bpmn", doc.encode())
    assert out["status"] == "view_only"
    text = " | ".join(out["reasons"])
    assert "Hausmeister" in text and "F2" in text
    assert {"lane-without-office", "expression-does-not-compile"} <= {
        f["rule"] for f in out["findings"]
    }


def test_non_utf8_file_opens_in_its_declared_encoding():
    doc = _lotse_model().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    out = _check("latin1.bpmn", doc)
    assert out["status"] == "executable", out["reasons"]
    assert out["xml"].encode(out["encoding"]) == doc
    assert out["processes"][0]["tasks"][0]["name"] == "Akte prüfen"


def test_vendor_extensions_survive_deploy_as_stored_source(engine):
    """What deploy stores (and the modeler later loads) is the file as given."""
    text = _lotse_model("roundtrip")
    out = _check("roundtrip.bpmn", text.encode())
    assert out["status"] == "executable"
    engine.deploy_files(B.files(roundtrip__bpmn=out["xml"]))
    with engine.db.reader() as s:
        d = s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == "roundtrip"))
        stored = d.source_files["roundtrip.bpmn"]
    assert stored == text
    assert 'signavio:uuid="abc-123"' in stored and "signavio:signavioMetaData" in stored


# ------------------------------------------------------------------------------ CLI
def test_import_check_cli(tmp_path):
    from web.cli_design import import_check_command

    @click.group()
    def root():
        pass

    root.add_command(import_check_command)
    good = tmp_path / "good.bpmn"
    good.write_text(_lotse_model(), encoding="utf-8")
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(b"<nope")
    runner = CliRunner()
    ok = runner.invoke(root, ["import-check", str(good), "--json"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.output)
    assert payload["status"] == "executable" and "xml" not in payload
    refused = runner.invoke(root, ["import-check", str(bad), "--json"])
    assert refused.exit_code == 1 and json.loads(refused.output)["status"] == "refused"
    human = runner.invoke(root, ["import-check", str(bad)])
    assert "refused" in human.output and "not well-formed" in human.output
