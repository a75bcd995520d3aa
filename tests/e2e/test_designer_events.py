"""The Lotse panel's timer and message fields in real Chromium (offline): the engine's lint
findings (ISO 8601, quoting) appear at the field while typing, and the values land in the
BPMN the modeler saves."""

from __future__ import annotations

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.e2e.test_designer_browser import (  # noqa: F401 - autouse fixture
    _offline_and_clean,
    axe_check,
    click_element,
    log_in,
    report_settled,
)

pytestmark = pytest.mark.browser
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@pytest.fixture
def eng(sqlite_app):
    return sqlite_app.extensions["lotse"].engine


def saved_xml(page) -> etree._Element:
    page.get_by_role("button", name="Entwurf speichern").click()
    expect(page.locator("#designer-status")).to_have_text("Entwurf gespeichert.")
    xml = page.evaluate("url => fetch(url, {headers: {Accept: 'application/json'}})"
                        ".then(r => r.json()).then(d => d.xml)",
                        page.url.rstrip("/") + "/data")
    return etree.fromstring(xml.encode("utf-8"))


def test_timer_and_message_fields(live_server, page, eng):
    log_in(page, live_server, "designer.demo")
    page.goto(live_server.url + "/designer/")
    page.get_by_label("Name des Prozesses").fill("Fristen")
    page.get_by_label("Prozess-ID").fill("kim_fristen")
    with page.expect_navigation():
        page.get_by_role("button", name="Modellieren").click()
    page.wait_for_selector("#canvas[data-ready=true]")
    report_settled(page)
    # set-up through bpmn-js's own API: start -> timer catch -> message throw
    page.evaluate("""() => {
      const m = window.lotseDesigner.modeler;
      const reg = m.get('elementRegistry'), modeling = m.get('modeling');
      const start = reg.get('StartEvent_1');
      const timer = modeling.appendShape(start, {type: 'bpmn:IntermediateCatchEvent',
        eventDefinitionType: 'bpmn:TimerEventDefinition'});
      modeling.updateProperties(timer, {id: 'Frist'});
      const msg = modeling.appendShape(timer, {type: 'bpmn:IntermediateThrowEvent',
        eventDefinitionType: 'bpmn:MessageEventDefinition'});
      modeling.updateProperties(msg, {id: 'Melden'});
    }""")
    report_settled(page)

    # timer: an unquoted duration is reported at the field (engine lint, live)
    click_element(page, "Frist")
    value = page.get_by_label("Wert (Python-Ausdruck)")
    expect(page.get_by_label("Art des Zeitgebers")).to_have_value("timeDuration")
    value.fill("P5D")
    value.press("Tab")
    report_settled(page)
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#timer-value-error")).to_contain_text("is not quoted")
    # quoted but not ISO 8601
    value.fill('"P5X"')
    value.press("Tab")
    report_settled(page)
    expect(page.locator("#timer-value-error")).to_contain_text("not a valid ISO 8601 duration")
    # valid
    value.fill('"P5D"')
    value.press("Tab")
    report_settled(page)
    expect(page.locator("#timer-value-error")).to_have_count(0)
    expect(value).not_to_have_attribute("aria-invalid", "true")
    axe_check(page, "modeler, timer selected")
    # a date instead
    page.get_by_label("Art des Zeitgebers").select_option("timeDate")
    value = page.get_by_label("Wert (Python-Ausdruck)")
    value.fill('"2026-04-01T08:00:00+02:00"')
    value.press("Tab")
    report_settled(page)
    expect(page.locator("#timer-value-error")).to_have_count(0)

    # message: no name yet -> asked for one; naming it creates the bpmn:message
    click_element(page, "Melden")
    name = page.get_by_label("Name der Nachricht")
    expect(page.locator("#message-name-error")).to_contain_text("braucht einen Namen")
    name.fill("frist_abgelaufen")
    name.press("Tab")
    report_settled(page)
    # thrown without payload: the engine's correlation finding is shown at the field
    expect(page.locator("#message-name-error")).to_contain_text("messagePayload")
    axe_check(page, "modeler, message selected")

    root = saved_xml(page)
    ted = root.find(f".//{BPMN}intermediateCatchEvent[@id='Frist']/{BPMN}timerEventDefinition")
    assert ted.find(f"{BPMN}timeDuration") is None
    assert ted.find(f"{BPMN}timeDate").text == '"2026-04-01T08:00:00+02:00"'
    med = root.find(f".//{BPMN}intermediateThrowEvent[@id='Melden']/{BPMN}messageEventDefinition")
    message = root.find(f"{BPMN}message[@id='{med.get('messageRef')}']")
    assert message is not None and message.get("name") == "frist_abgelaufen"

    # renaming changes the same message, no second one
    click_element(page, "Melden")
    name = page.get_by_label("Name der Nachricht")
    name.fill("frist_verstrichen")
    name.press("Tab")
    report_settled(page)
    root = saved_xml(page)
    names = [m.get("name") for m in root.findall(f"{BPMN}message")]
    assert names == ["frist_verstrichen"]
