"""Issue 16.6: ``lotse lint`` and the import check are linear in model size.

Nothing here is timed (timings are measured in ``bench``, workload ``lint``). The tests count
work instead, with the real lxml, SpiffWorkflow and jsonschema doing it:

* element visits: every lxml element object created while the files are checked (the
  documents are parsed with an element class that counts its instantiations; lxml creates
  one each time Python code reaches an element it does not hold already);
* scanned elements: for every XPath with a descendant step (``//``) that SpiffWorkflow's
  node parsers evaluate, the number of elements below its context node (the document for
  ``doc_xpath``): what such a query has to look at;
* JSON Schema checks of form files.

Per element these numbers must be the same for a model of 2,000 and one of 20,000 user
tasks. Before the fix, SpiffWorkflow looked up each message event's message by XPath over
the whole document (scanned elements per element grew with the model: 26 at 1,000 tasks,
251 at 10,000), and the lint checked the form's JSON Schema once per user task.
"""

from __future__ import annotations

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.node_parser import NodeParser
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser

import engine.bpmn_xml as bpmn_xml
from engine import forms
from engine import lint as lint_mod
from engine.deploy import BPMN_NS, _LotseParser, _Problems, collect_files
from engine.interop import inspect_import
from engine.lint import lint_files
from processes.offices import OfficeRegistry
from tests import bpmn_builder as B
from tests.conftest import BPMN_DIR

REGISTRY = OfficeRegistry.load()


class Work:
    def __init__(self) -> None:
        self.visits = 0
        self.scanned = 0
        self.xpaths: list[str] = []
        self.schema_checks = 0
        self.lint_runs = 0

    def per_element(self, elements: int) -> tuple[float, float]:
        return self.visits / elements, self.scanned / elements


@pytest.fixture
def work(monkeypatch):
    counter = Work()

    class CountedElement(etree.ElementBase):
        def _init(self):
            counter.visits += 1

    real_parser = bpmn_xml.safe_parser

    def counting_parser():
        parser = real_parser()
        parser.set_element_class_lookup(etree.ElementDefaultClassLookup(element=CountedElement))
        return parser

    real_xpath = NodeParser._xpath

    def counted_xpath(self, node, xpath):
        if "//" in xpath:
            base = node.getroottree().getroot() if xpath.startswith("//") else node
            # count() in libxml2 creates no Python element objects, so visits stay exact
            counter.scanned += int(base.xpath("count(descendant-or-self::*)"))
            counter.xpaths.append(xpath)
        return real_xpath(self, node, xpath)

    real_check = forms.check_schema

    def counted_check(*args, **kwargs):
        counter.schema_checks += 1
        return real_check(*args, **kwargs)

    real_run = lint_mod._Linter.run

    def counted_run(self):
        counter.lint_runs += 1
        return real_run(self)

    monkeypatch.setattr(bpmn_xml, "safe_parser", counting_parser)
    monkeypatch.setattr(NodeParser, "_xpath", counted_xpath)
    monkeypatch.setattr(forms, "check_schema", counted_check)
    monkeypatch.setattr(lint_mod._Linter, "run", counted_run)
    return counter


def _elements(content: bytes) -> int:
    return int(etree.fromstring(content).xpath("count(//*)"))


def _lint_work(work: Work, tasks: int) -> tuple[int, Work]:
    files = B.large_files(tasks)
    work.__init__()
    findings = lint_files(files, resolve_lane=REGISTRY.resolve_lane)
    assert findings == []  # the model is valid: no finding hides skipped checks
    snapshot = Work()
    snapshot.__dict__.update(work.__dict__)
    return _elements(files[0].content), snapshot


def test_lint_work_per_element_does_not_grow_with_the_model(work):
    small_n, small = _lint_work(work, 2_000)
    big_n, big = _lint_work(work, 20_000)
    assert big_n > 9 * small_n  # about 26,000 and 260,000 elements
    visits, scanned = big.per_element(big_n)
    # each element is reached a bounded number of times (4.6 with this model) ...
    assert visits <= 8, visits
    # ... and XPath descendant queries look at each element less than once overall (0.4);
    # before the fix it was 251 at 10,000 tasks (one document scan per message event)
    assert scanned <= 2, scanned
    small_visits, small_scanned = small.per_element(small_n)
    assert visits <= 1.2 * small_visits and scanned <= 1.2 * small_scanned + 0.1
    # one JSON Schema check per form file, not one per user task (20,000 before)
    assert big.schema_checks == 1 and small.schema_checks == 1
    # libxml2 evaluates ".//*[@id]" from a process element in quadratic time (2.2 s for
    # 20,000 ids, measured); SpiffWorkflow's process index must not use it
    assert ".//*[@id]" not in big.xpaths


def test_import_check_lints_once_and_stays_linear(work):
    results = []
    for tasks in (1_000, 10_000):
        content = B.large_process(tasks).encode("utf-8")
        work.__init__()
        out = inspect_import("large.bpmn", content, resolve_lane=REGISTRY.resolve_lane)
        # no form file comes with an upload: every user task is a reason, none twice
        assert out["status"] == "view_only"
        assert len(out["reasons"]) == len(set(out["reasons"])) > tasks
        assert work.lint_runs == 1  # deploy's check reuses the import check's lint run
        results.append(work.per_element(_elements(content)))
    (small_visits, small_scanned), (visits, scanned) = results
    assert visits <= 12 and scanned <= 2, results
    assert visits <= 1.2 * small_visits and scanned <= 1.2 * small_scanned + 0.1, results


# ---------------------------------------------------------------- the indexes are exact
def _parsers(paths):
    parser = _LotseParser(REGISTRY.resolve_lane, _Problems())
    for f in paths:
        if f.name.endswith(".bpmn"):
            parser.add_bpmn_xml(bpmn_xml.parse_xml(f.content), filename=f.name)
    return parser


def test_process_index_and_lookups_match_spiffworkflows_xpath():
    files = [f for f in collect_files([BPMN_DIR]) if f.name.endswith(".bpmn")]
    files += B.large_files(200)[:1]
    parser = _parsers(files)
    assert parser.process_parsers
    for pp in parser.process_parsers.values():
        reference = object.__new__(type(pp))
        reference.node, reference.nsmap = pp.node, pp.nsmap
        reference.nodes_by_id, reference.outgoing_sequence_flows = {}, {}
        reference.boundary_events_by_attached = {}
        reference.data_object_references, reference.data_store_references = {}, {}
        ProcessParser._index_process_nodes(reference)  # SpiffWorkflow's XPath version
        for attr in ("nodes_by_id", "outgoing_sequence_flows", "boundary_events_by_attached",
                     "data_object_references", "data_store_references"):
            assert getattr(pp, attr) == getattr(reference, attr), (pp.bpmn_id, attr)
    checked = 0
    for pp in parser.process_parsers.values():
        root = pp.node.getroottree().getroot()
        node_parser, spec = parser._get_parser_class(f"{{{BPMN_NS}}}intermediateThrowEvent")
        np = node_parser(pp, spec, pp.node, pp.nsmap)
        for el in root.iter(f"{{{BPMN_NS}}}message", f"{{{BPMN_NS}}}signal",
                            f"{{{BPMN_NS}}}error", f"{{{BPMN_NS}}}escalation"):
            tag = etree.QName(el).localname
            for quote in ('"', "'"):
                query = f".//bpmn:{tag}[@id={quote}{el.get('id')}{quote}]"
                assert np.doc_xpath(query) == NodeParser.doc_xpath(np, query)
                checked += 1
        missing = ".//bpmn:message[@id='nope']"
        assert np.doc_xpath(missing) == [] == NodeParser.doc_xpath(np, missing)
    assert checked > 20


def test_a_long_loop_is_named_by_its_ends_only():
    ids = [f"T{i}" for i in range(30)]
    body = '<bpmn:startEvent id="Ev_Start"/><bpmn:endEvent id="Ev_End"/>'
    body += "".join(B.user_task(t, f"Schritt {t}", form="f.json") for t in ids)
    body += '<bpmn:exclusiveGateway id="Gw" default="F_back"/>'
    chain = ["Ev_Start", *ids, "Gw"]
    pairs = zip(chain, chain[1:], strict=False)  # each element and its successor
    body += "".join(B.flow(f"F{i}", a, b) for i, (a, b) in enumerate(pairs))
    body += B.flow("F_back", "Gw", "T0") + B.flow("F_done", "Gw", "Ev_End", "done == True")
    doc = B.process("loop30", {"KIM_CM": [*chain, "Ev_End"]}, body)
    files = [*B.files(p__bpmn=doc), *B.files(f__json=B.simple_form("note"))]
    loops = [f for f in lint_files(files, resolve_lane=REGISTRY.resolve_lane)
             if f.rule == "back-edge-loop"]
    assert len(loops) == 1 and loops[0].element == "F_back"
    message = loops[0].message
    assert "'Schritt T0' (T0) -> 'Schritt T1' (T1)" in message  # where the loop starts
    assert "... (20 more)" in message and "'Gw' -> 'Schritt T0' (T0)" in message
    assert "T15" not in message
