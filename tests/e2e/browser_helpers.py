"""Helpers the Chromium tests share: log in through the login form, run axe-core."""

from __future__ import annotations


def axe_check(page, label: str) -> None:
    """Run axe-core on the current page: no serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"]
           if v.get("impact") in ("serious", "critical")]
    details = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    assert not bad, f"{label}: {details}"


def log_in(page, server, name, password="lotse-demo"):
    page.goto(server.url + "/login")
    page.get_by_label("Benutzername").fill(name)
    page.get_by_label("Passwort").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Anmelden").click()
