"""The RMM widgets render and respond in a real JupyterLab, in a real (headless) browser.

For each theme (light, dark) a JupyterLab server opens ``realm_demo.ipynb`` in headless Chromium
and runs every cell: an :class:`~ccalab.widgets.rmi.RmiConsole` and a
:class:`~ccalab.widgets.realm.RealmInspector` (with its pictures) must render, with no widget
failing. Then the test uses them as a learner would:

* in the RMI console, RMI_GRANULE_DELEGATE of a Non-secure granule succeeds, and the same call
  again fails with RMI_ERROR_INPUT, the failure condition ``gran_state`` highlighted;
* in the realm inspector, "Build all" builds and activates the demo realm, "Run" runs it until it
  powers off (its console line "hello from realm ..." is shown) and the granule-state picture
  changes; "Reset" brings back a fresh machine (the plan at stage 1, the first picture again).

The time from each click to its effect on the page goes to ``test-artifacts/browser-metrics.json``
(recorded, not asserted); screenshots of each widget in each theme go to ``test-artifacts/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NB_PATH = "tests/browser/realm_demo.ipynb"  # relative to the server's root, the repository
NOTEBOOK = Path(__file__).resolve().parents[2] / NB_PATH
RUN_ALL_TIMEOUT = 120_000  # ms from "Run All" to every cell done (about 3 s here)
EXPECT_TIMEOUT = 30_000  # ms for every other wait, e.g. from a click to its effect (under 1 s here)
PA = "0x90000000"  # a Non-secure DRAM granule of the console's platform (DRAM from 0x80000000, 1 GB)
COMMAND = "RMI_GRANULE_DELEGATE"


def test_rmi_console_and_realm_inspector_respond_in_jupyterlab(lab, page, lab_notebook, artifacts, metrics):
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT)
    theme = lab.theme
    shots = {name: artifacts / f"{name}-{theme}.png"
             for name in ("failure-realm", "jupyterlab-realm", "rmi-console", "realm-inspector")}
    for stale in shots.values():
        stale.unlink(missing_ok=True)
    notebook_on_disk = NOTEBOOK.read_bytes()
    nb = lab_notebook(NB_PATH)
    button = nb.button
    clicks: dict[str, float] = {}

    def timed(name: str, action, *effects) -> None:
        """Do ``action`` (a click), then wait for each of ``effects``; keep the seconds this took."""
        t = time.monotonic()
        action()
        for effect in effects:
            effect()
        clicks[name] = round(time.monotonic() - t, 3)

    phase = "open the notebook"
    try:
        # 1. JupyterLab opens the notebook in the requested theme and its kernel comes up idle
        open_to_idle = nb.open()
        notebook = nb.cells
        expect(notebook.locator(".widget-button")).to_have_count(0)  # nothing rendered yet

        # 2. Run All: both widgets render, the inspector with its granule-state picture
        phase = "run all cells"
        t_run = time.monotonic()
        nb.run_all()
        nb.wait_all_cells_run(timeout=RUN_ALL_TIMEOUT)
        console = nb.output("RMI Console")
        inspector = nb.output("Realm Inspector")
        expect(console).to_have_count(1)
        expect(inspector).to_have_count(1)
        picture = inspector.locator(".widget-output img")
        expect(picture).to_have_count(1)  # the selected panel (granule states) only
        expect(picture).to_be_visible()
        run_all_done = time.monotonic() - t_run

        phase = "check the rendered widgets"
        for name in ("Call", "Reset", "Write a valid RmiRealmParams page", "Write a valid RmiRecParams page"):
            expect(button(console, name)).to_be_visible()
        for name in ("Build next step", "Build all", "Run", "Destroy", "Refresh", "Reset"):
            expect(button(inspector, name)).to_be_visible()
        expect(button(inspector, "Build all")).to_be_enabled()
        expect(inspector).to_contain_text("[>] 1. Delegate the RD and root RTT granules")
        expect(inspector.get_by_role("tab", name="Granule states")).to_be_visible()
        nb.assert_not_broken()
        first_picture = picture.get_attribute("src")
        assert first_picture and first_picture.startswith("data:image/png"), first_picture

        # 3. the RMI console: choose the command (another one first, so the choice really travels
        #    to the kernel and back), type the address, Call
        phase = "use the RMI console"
        command = console.locator(".widget-dropdown").filter(has_text="Command:").locator("select")
        address = console.locator(".widget-text").filter(has_text="X1 addr:").locator("input")
        command.select_option("RMI_VERSION")
        expect(console.locator(".widget-text").filter(has_text="X1 req:")).to_be_visible()
        command.select_option(COMMAND)
        expect(address).to_be_visible()
        expect(address).to_have_attribute("placeholder", "hex, e.g. 0x84000000")
        address.fill(PA)
        address.press("Enter")  # the field syncs on Enter (continuous_update=False)

        timed("rmi_call_success", lambda: button(console, "Call").click(),
              lambda: expect(console).to_contain_text(f"{COMMAND}({PA}) -> RMI_SUCCESS"))
        expect(console).to_contain_text("X0 0x0 = RMI_SUCCESS", use_inner_text=True)
        expect(console.locator("tr").filter(has_text="passed")).to_have_count(4)
        expect(console.locator("tr").filter(has_text="FAILED")).to_have_count(0)

        # the same call again: the granule is DELEGATED now, the third condition decides
        expect(address).to_have_value(PA)
        timed("rmi_call_error", lambda: button(console, "Call").click(),
              lambda: expect(console).to_contain_text(f"{COMMAND}({PA}) -> RMI_ERROR_INPUT"))
        expect(console).to_contain_text("X0 0x1 = RMI_ERROR_INPUT", use_inner_text=True)
        expect(console.locator("tr").filter(has_text="failure condition")).to_contain_text("gran_state")
        failed = console.locator("tr").filter(has_text="FAILED")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("gran_state")
        expect(failed).to_contain_text("RMI_ERROR_INPUT")
        expect(console.locator("tr").filter(has_text="not reached")).to_contain_text("gran_gpt")
        nb.assert_not_broken(" after the RMI calls")

        # 4. the realm inspector: build the demo realm, run it, reset
        phase = "use the realm inspector"
        timed("realm_build_all", lambda: button(inspector, "Build all").click(),
              lambda: expect(inspector).to_contain_text("Built: stages 1-7 of the realm creation flow are done; "
                                                        "the realm is ACTIVE"))
        expect(inspector).to_contain_text("[x] 7. REALM_ACTIVATE")
        expect(button(inspector, "Build all")).to_be_disabled()
        expect(picture).not_to_have_attribute("src", first_picture)

        timed("realm_run", lambda: button(inspector, "Run").click(),
              lambda: expect(inspector).to_contain_text("Console: hello from realm CPU 0"))
        expect(inspector).to_contain_text("stopped: the realm called PSCI SYSTEM_OFF")
        expect(picture).to_be_visible()
        expect(picture).not_to_have_attribute("src", first_picture)
        nb.assert_not_broken(" after Build all and Run")

        phase = "take screenshots"
        console.scroll_into_view_if_needed()
        console.screenshot(path=str(shots["rmi-console"]))
        inspector.scroll_into_view_if_needed()
        inspector.screenshot(path=str(shots["realm-inspector"]))
        page.screenshot(path=str(shots["jupyterlab-realm"]))

        phase = "reset the realm inspector"
        timed("realm_reset", lambda: button(inspector, "Reset").click(),
              lambda: expect(inspector).to_contain_text("Reset: a freshly booted machine, no realm yet"))
        expect(inspector).to_contain_text("[>] 1. Delegate the RD and root RTT granules")
        expect(inspector).not_to_contain_text("[x]")
        expect(button(inspector, "Build all")).to_be_enabled()
        expect(inspector.locator("select").filter(has_text="(no realm yet)")).to_have_count(1)
        expect(picture).to_have_attribute("src", first_picture)  # a fresh machine looks as at the start
        nb.assert_not_broken(" after Reset")
    except Exception:
        print(f"[{theme}] failed at: {phase}; see test-artifacts/failure-realm-{theme}.png, "
              f"jupyterlab-{theme}.log, browser-console-{theme}.log")
        try:
            print("run-all command:", nb.run_all_state())
            page.screenshot(path=str(shots["failure-realm"]))
        except Exception as exc:  # the page itself may be gone
            print("no failure screenshot:", exc)
        raise
    assert NOTEBOOK.read_bytes() == notebook_on_disk, "the browser run changed realm_demo.ipynb on disk"

    metrics.setdefault("rmm_page_open_to_kernel_idle_s", {})[theme] = round(open_to_idle, 3)
    metrics.setdefault("rmm_run_all_to_widgets_drawn_s", {})[theme] = round(run_all_done, 3)
    metrics.setdefault("rmm_click_to_effect_s", {})[theme] = clicks
    metrics.setdefault("rmm_slowest_click_to_effect_s", {})[theme] = max(clicks.values())
    print(f"[{theme}] RMM widgets: Run All to both drawn {run_all_done:.2f} s; click to effect "
          + ", ".join(f"{name} {sec:.2f} s" for name, sec in clicks.items()))
