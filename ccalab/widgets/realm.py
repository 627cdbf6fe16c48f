"""``RealmInspector``: build a realm one step at a time and look inside the RMM after each step.

The dashboard drives a KVM-like host (:class:`ccalab.host.Host`) through the realm creation flow,
one stage per click (delegate, REALM_CREATE, RTT_CREATE, DATA_CREATE, RTT_INIT_RIPAS, REC_CREATE,
REALM_ACTIVATE), then runs the realm and tears it down. Its panels are the views of
:mod:`ccalab.viz.realm`: granule states, the RTT tree, the RECs, the RIM step by step, a sequence
diagram of the last action (or of everything) and the call log. Each picture has its text
version next to it.

Everything the dashboard does is a public method (``build_next()``, ``build_all()``, ``run()``,
``destroy()``, ``reset()``, ``refresh()``), and every control is an attribute, so a test (or a
notebook's hidden check) can drive it without a browser.

Spec: RMM DEN0137 1.0-rel0, D1 "Realm creation flow", D2 "REC entry flow"; the RMI commands each
stage calls.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W

from ._common import FAULT_STYLE as _FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE, pre as _pre

from ..arch.pas import PAS
from ..errors import CCALabError
from ..firmware.rmm import s2tt
from ..firmware.rmm.exits import ExitReason
from ..firmware.rmm.rmi.rec import index_mpidr
from ..firmware.rmm.status import RmiStatus
from ..firmware.rmm.structs import REALM_PARAMS, REC_FLAG_RUNNABLE, REC_PARAMS
from ..host import Host, HostError, RealmConfig, RealmHandle, RunReport
from ..viz import realm as _vr

G = 4096

#: The build, one stage per click: (title, what it does and why).
STAGES = (
    ("Delegate the RD and root RTT granules",
     "RMI_GRANULE_DELEGATE moves each granule from the Non-secure to the Realm PAS (the RMM asks EL3 with "
     "RMM_GTSI_DELEGATE); from now on the host cannot read or write them."),
    ("REALM_CREATE",
     "The host writes RmiRealmParams into one of its pages; the RMM checks them, turns the RD and root RTT "
     "granules into RD and RTT, and starts the RIM as the hash of the measured parameters."),
    ("RTT_CREATE the level 1, 2 and 3 tables for the image",
     "Each RTT_CREATE turns a delegated granule into an RTT and links it below its parent, so that IPA 0 has a "
     "level 3 entry for DATA_CREATE."),
    ("DATA_CREATE the image (measured)",
     "The RMM copies each image page from host memory into a delegated granule, maps it at its IPA, and "
     "extends the RIM with the page's IPA, flags and content hash."),
    ("RTT_INIT_RIPAS the rest of RAM",
     "The rest of the realm's RAM becomes RIPAS RAM (not backed yet); each RTT entry it sets extends the RIM."),
    ("REC_CREATE the vCPU(s)",
     "REC_AUX_COUNT, then REC_CREATE from RmiRecParams: a runnable REC's PC and registers extend the RIM."),
    ("REALM_ACTIVATE",
     "The realm moves from NEW to ACTIVE: the RIM is frozen and the RECs may run."),
)

#: The budget of one Run: at most this many REC exits, and no new REC_ENTER after this many
#: seconds of work (a realm that waits in a loop never powers off; each of its timer exits runs a
#: long slice of guest operations).
RUN_EXITS = 2000
RUN_SECONDS = 3.0


class RealmInspector:
    """Build, run and inspect a realm on one :class:`ccalab.Platform`.

    Parameters
    ----------
    p : Platform, optional
        The machine; by default a new ``Platform(dram_size=1 << 30)`` (or the host's or realm's).
    host : Host, optional
        The host that builds the demo realm (default: the realm's host, or a new
        :class:`~ccalab.host.Host` of ``p``).
    realm : RealmHandle, optional
        A realm built elsewhere (e.g. by ``host.build_realm``): the build stages count as done,
        and Run / Destroy act on it.
    theme : {"auto", "light", "dark"}
        Theme of the pictures (see :func:`ccalab.viz.theme.resolve_theme`).
    draw : bool
        Draw the matplotlib pictures (True) or show only their text versions (False, no graphics).

    Attributes
    ----------
    platform, host : the machine and the host
    handle : the demo realm's :class:`~ccalab.host.RealmHandle` (None before the first stage)
    stage : how many stages of :data:`STAGES` are done
    program : Dropdown, the guest program of the next realm
    realm_select : Dropdown, which realm the panels show
    build_next_button, build_all_button, run_button, destroy_button, refresh_button, reset_button
    scope : ToggleButtons, the sequence diagram shows the last action or everything
    message, plan_html : HTML, what the last action did; the build plan with its progress
    tabs : Tab with the panels; ``texts[name]`` the HTML text of panel ``name`` and
        ``outputs[name]`` its figure (names: granules, rtt, recs, rim, sequence, log, summary)
    ui : the root widget
    """

    PANELS = (("granules", "Granule states"), ("rtt", "RTT tree"), ("recs", "RECs"), ("rim", "RIM log"),
              ("sequence", "Sequence"), ("log", "Call log"), ("summary", "Summary"))
    DRAWN = ("granules", "rtt", "rim", "sequence")

    def __init__(self, p=None, host=None, realm=None, theme: str = "auto", draw: bool = True):
        if p is None:
            if host is not None:
                p = host.p
            elif realm is not None:
                p = realm.p
            else:
                from ..platform import Platform

                p = Platform(dram_size=1 << 30)
        self.theme = theme
        self.draw = draw
        self._busy = False
        self._quiet = False
        self._stale = False
        self._batch = False
        self.platform = p
        if host is None:
            host = realm.host if realm is not None else Host(p)
        self.host = host
        self.handle = realm
        self.stage = len(STAGES) if realm is not None else 0
        self.mark = p.events.next_seq  # where the last action began
        self.last_report = None
        self._run_state = None
        self._build()
        self._attach(p)
        self._refresh()

    # --- construction ------------------------------------------------------------------------
    def _build(self):
        from ..guest.programs import PROGRAMS

        style = {"description_width": "initial"}
        self.title = W.HTML("<b>Realm Inspector</b>: build a realm one RMI step at a time and watch the RMM's "
                            "granules, translation tables, RECs and measurement change.")
        names = sorted(PROGRAMS)
        self.program = W.Dropdown(options=names, value="hello" if "hello" in names else names[0],
                                  description="Guest program:", style=style,
                                  tooltip="The program the next realm boots (used when its build starts)")
        self.build_next_button = W.Button(description="Build next step", button_style="primary", icon="step-forward",
                                          tooltip="Make the RMI calls of the next stage of the realm creation flow")
        self.build_all_button = W.Button(description="Build all", icon="fast-forward",
                                         tooltip="Make every remaining stage, up to REALM_ACTIVATE")
        self.run_button = W.Button(description="Run", button_style="success", icon="play",
                                   tooltip="REC_ENTER the realm's RECs and serve their exits until it powers off "
                                           "(a realm that keeps running pauses after a few seconds)")
        self.destroy_button = W.Button(description="Destroy", button_style="warning", icon="trash",
                                       tooltip="Tear the realm down (DATA_DESTROY, RTT_DESTROY, REC_DESTROY, "
                                               "REALM_DESTROY) and undelegate every granule")
        self.refresh_button = W.Button(description="Refresh", icon="refresh", tooltip="Redraw every panel")
        self.reset_button = W.Button(description="Reset", icon="undo", button_style="danger",
                                     tooltip="Boot a fresh machine and start again")
        self.message = W.HTML()
        self.plan_html = W.HTML()
        self.stale_note = W.HTML()
        self.realm_select = W.Dropdown(options=[("(no realm yet)", None)], value=None, description="Show realm:",
                                       style=style, layout=W.Layout(width="32em"))
        self.scope = W.ToggleButtons(options=[("Last action", "last"), ("Everything", "all")], value="last",
                                     description="Sequence of:", style=style,
                                     tooltips=["Only what the last button did", "The whole event log"])
        self.texts = {name: W.HTML() for name, _ in self.PANELS}
        self.outputs = {name: W.Output() for name in self.DRAWN}
        children = []
        for name, _title in self.PANELS:
            parts = []
            if name == "sequence":
                parts.append(self.scope)
            if name in self.outputs:
                parts.append(self.outputs[name])
                acc = W.Accordion(children=[self.texts[name]])
                acc.set_title(0, "Text version")
                acc.selected_index = None if self.draw else 0
                parts.append(acc)
            else:
                parts.append(self.texts[name])
            children.append(W.VBox(parts))
        self.tabs = W.Tab(children=children)
        for k, (_name, title) in enumerate(self.PANELS):
            self.tabs.set_title(k, title)

        self.build_next_button.on_click(lambda _b: self.build_next())
        self.build_all_button.on_click(lambda _b: self.build_all())
        self.run_button.on_click(lambda _b: self.run())
        self.destroy_button.on_click(lambda _b: self.destroy())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.reset_button.on_click(lambda _b: self.reset())
        self.tabs.observe(self._on_tab, names="selected_index")
        self.realm_select.observe(self._on_select, names="value")
        self.scope.observe(self._on_select, names="value")

        self.ui = W.VBox([
            self.title,
            W.HBox([self.program, self.realm_select]),
            W.HBox([self.build_next_button, self.build_all_button, self.run_button, self.destroy_button,
                    self.refresh_button, self.reset_button]),
            self.plan_html,
            self.message,
            self.stale_note,
            self.tabs,
        ])

    def _attach(self, platform):
        self.platform = platform
        platform.events.subscribe(self._on_event)

    def _detach(self):
        self.platform.events.unsubscribe(self._on_event)

    # --- callbacks -----------------------------------------------------------------------------
    def _on_event(self, _event):
        if self._busy or self._stale:
            return
        self._stale = True
        self.stale_note.value = "<i>The machine changed outside the inspector: press Refresh.</i>"

    def _on_tab(self, _change):
        if not self._quiet:
            self._draw_selected()

    def _on_select(self, _change):
        if not self._quiet:
            self._update_panels()
            self._draw_selected()

    # --- helpers -----------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note", detail: str = "") -> None:
        style = {"ok": _OK_STYLE, "fault": _FAULT_STYLE}.get(kind, _NOTE_STYLE)
        more = f"<details><summary>Details</summary>{_pre(detail)}</details>" if detail else ""
        self.message.value = f"<div style='{style}'>{html.escape(text)}{more}</div>"

    @property
    def built(self) -> bool:
        """Whether every build stage is done (the realm is ACTIVE or beyond)."""
        return self.stage >= len(STAGES)

    def _rd(self):
        """The RD the panels show, or None."""
        rd = self.realm_select.value
        return rd if rd in self.platform.rmm.realms else None

    def _realm_options(self):
        opts = []
        for rd, realm in self.platform.rmm.realms.items():
            mine = " (this inspector's)" if self.handle is not None and self.handle.rd == rd else ""
            opts.append((f"RD {rd:#x}: VMID {realm.vmid}, {realm.state.name}{mine}", rd))
        return opts or [("(no realm yet)", None)]

    def _sync_select(self, own: bool = False):
        """Refresh the realm list; show this inspector's realm if ``own`` (after an action) or if
        the realm shown has gone."""
        opts = self._realm_options()
        values = [v for _, v in opts]
        want = self.realm_select.value
        mine = self.handle.rd if self.handle is not None else None
        if (own and mine in values) or want not in values:
            want = mine if mine in values else values[0]
        self._quiet = True
        try:
            self.realm_select.options = opts
            self.realm_select.value = want
        finally:
            self._quiet = False

    def _plan_text(self) -> str:
        lines = []
        for k, (title, why) in enumerate(STAGES):
            mark = "[x]" if k < self.stage else ("[>]" if k == self.stage else "[ ]")
            lines.append(f"{mark} {k + 1}. {title}")
        if self.built:
            lines.append("Build done: Run the realm, or Destroy it.")
        else:
            lines.append(f"Next: {STAGES[self.stage][1]}")
        return "\n".join(lines)

    def plan_text(self) -> str:
        """The build plan with the stages done (``[x]``) and the next one (``[>]``): the text of
        the plan panel."""
        return self._plan_text()

    def _begin(self):
        self.mark = self.platform.events.next_seq
        self._busy = True

    def _end(self):
        self._busy = False

    # --- the build stages ----------------------------------------------------------------------
    def _new_handle(self):
        used = {r.vmid for r in self.platform.rmm.realms.values()}
        vmid = 1
        while vmid in used:
            vmid += 1
        prog = self.program.value
        cfg = RealmConfig(program=prog, recs=2 if prog == "linux-boot" else 1, vmid=vmid)
        self.handle = RealmHandle(self.host, cfg)

    def _create_rtts(self, ipa: int, level: int) -> list:
        """RTT_CREATE the missing tables from the start level down to ``level`` for ``ipa``."""
        h, hd = self.host, self.handle
        made = []
        for lvl in range(hd.cfg.rtt_level_start + 1, level + 1):
            region = ipa & ~(s2tt.LEVEL_SIZE[lvl - 1] - 1)
            if (region, lvl) in hd.rtts:
                continue
            rtt = h.delegate(1)[0]
            h.must("RTT_CREATE", hd.rd, rtt, region, lvl, hint=f"level {lvl} RTT for IPA {region:#x}")
            hd.rtts[(region, lvl)] = rtt
            made.append(f"L{lvl} RTT at {rtt:#x} for IPA {region:#x}")
        return made

    def _stage_0(self):
        self._new_handle()
        h, hd = self.host, self.handle
        num = s2tt.rtt_num_start(hd.cfg.s2sz, hd.cfg.rtt_level_start)
        hd.rd = h.delegate(1)[0]
        roots = h.delegate(num)
        hd.rtt_base = roots[0]
        return f"RD granule {hd.rd:#x} and {num} root RTT granule(s) from {roots[0]:#x} are now DELEGATED."

    def _stage_1(self):
        h, hd = self.host, self.handle
        prm = hd.cfg.params()
        prm["rtt_base"] = hd.rtt_base
        params_pa = h.write_struct(REALM_PARAMS, prm)
        h.must("REALM_CREATE", hd.rd, params_pa, hint="RmiRealmParams refused")
        rim = self.platform.rmm.measurement(hd.rd, 0)
        return (f"REALM_CREATE({hd.rd:#x}, params at {params_pa:#x}): the realm is NEW, VMID {prm['vmid']}; "
                f"RIM = H(params) = {_vr.short_hex(rim)}.")

    def _stage_2(self):
        made = self._create_rtts(self.handle.cfg.ram_base, 3)
        return "Created " + ("; ".join(made) if made else "nothing (the tables exist)") + "."

    def _stage_3(self):
        h, hd, p = self.host, self.handle, self.platform
        image = hd.cfg.image_bytes()
        n = len(image) // G
        src = h.alloc(n)
        hd.image_pa = src
        p.phys_write(src, image, PAS.NONSECURE)
        data = h.delegate(n)
        flags = 1 if hd.cfg.measure else 0
        for i in range(n):
            ipa = hd.cfg.ram_base + i * G
            self._create_rtts(ipa, 3)
            h.must("DATA_CREATE", hd.rd, data[i], ipa, src + i * G, flags)
            hd.data[ipa] = data[i]
        rim = p.rmm.measurement(hd.rd, 0)
        return f"{n} image page(s) copied in and measured from IPA {hd.cfg.ram_base:#x}; RIM {_vr.short_hex(rim)}."

    def _stage_4(self):
        h, hd, p = self.host, self.handle, self.platform
        n = len(hd.cfg.image_bytes()) // G
        base, top = hd.cfg.ram_base + n * G, hd.cfg.ram_base + hd.cfg.ram_size
        calls = 0
        while base < top:
            call = h.rmi("RTT_INIT_RIPAS", hd.rd, base, top)
            calls += 1
            if call.status == RmiStatus.ERROR_RTT and call.index < 3:
                self._create_rtts(base, call.index + 1)
                continue
            if not call.ok:
                raise HostError(call, "RTT_INIT_RIPAS failed")
            base = call.results[1]
        rim = p.rmm.measurement(hd.rd, 0)
        return (f"IPA {hd.cfg.ram_base + n * G:#x}..{top:#x} is RIPAS RAM ({_vr._plural(calls, 'call')}); "
                f"RIM {_vr.short_hex(rim)}.")

    def _stage_5(self):
        h, hd, p = self.host, self.handle, self.platform
        aux_n = h.must("REC_AUX_COUNT", hd.rd).results[1]
        for k in range(len(hd.recs), hd.cfg.recs):
            rec = h.delegate(1)[0]
            aux = h.delegate(aux_n)
            rp = {"flags": REC_FLAG_RUNNABLE if k == 0 else 0, "mpidr": index_mpidr(k), "pc": hd.cfg.ram_base,
                  "gprs": hd.cfg.boot_gprs(), "num_aux": aux_n, "aux": aux}
            h.must("REC_CREATE", hd.rd, rec, h.write_struct(REC_PARAMS, rp))
            hd.recs.append(rec)
            hd.aux.append(aux)
            hd.runs.append(h.alloc())
        rim = p.rmm.measurement(hd.rd, 0)
        return (f"{_vr._plural(len(hd.recs), 'REC')} at " + ", ".join(f"{r:#x}" for r in hd.recs)
                + f" ({aux_n} auxiliary granules each); RIM {_vr.short_hex(rim)}.")

    def _stage_6(self):
        h, hd = self.host, self.handle
        h.must("REALM_ACTIVATE", hd.rd)
        if hd not in h.realms:
            h.realms.append(hd)
        rim = self.platform.rmm.measurement(hd.rd, 0)
        return f"The realm is ACTIVE; its RIM is frozen: {rim.hex()}"

    # --- public actions --------------------------------------------------------------------------
    def build_next(self) -> bool:
        """Make the RMI calls of the next build stage. Returns True if the stage succeeded (a
        failure is explained in :attr:`message`)."""
        if self.built:
            self._say("The realm is built: press Run to run it, Destroy to tear it down, or Reset to start over.")
            return False
        k = self.stage
        self._begin()
        try:
            done = getattr(self, f"_stage_{k}")()
        except HostError as exc:
            self._end()
            call = exc.call
            why = f" The deciding failure condition is {call.failure!r}." if getattr(call, "failure", None) else ""
            self._say(f"Stage {k + 1} ({STAGES[k][0]}) failed: {exc}.{why}", "fault")
            self._refresh()
            return False
        except (ValueError, KeyError, TypeError, CCALabError) as exc:
            self._end()
            self._say(f"Stage {k + 1} ({STAGES[k][0]}) could not be done: {exc}", "fault")
            self._refresh()
            return False
        self._end()
        self.stage = k + 1
        self._say(f"Stage {k + 1}: {STAGES[k][0]}. {done}", "ok", detail=_vr.rmi_log_text(self.platform, self.mark))
        self._refresh()
        return True

    def build_all(self) -> bool:
        """Make every remaining stage; stops at the first failure. True if the realm is built."""
        if self.built:
            self._say("The realm is built already: press Run, Destroy or Reset.")
            return True
        first = self.platform.events.next_seq
        done = self.stage
        ok = True
        self._batch = True
        try:
            while ok and not self.built:
                ok = self.build_next()
        finally:
            self._batch = False
        self.mark = first
        if ok:
            self._say(f"Built: stages {done + 1}-{len(STAGES)} of the realm creation flow are done; the realm is "
                      f"ACTIVE with RIM {self.platform.rmm.measurement(self.handle.rd, 0).hex()}", "ok",
                      detail=_vr.rmi_log_text(self.platform, first, last=80))
        self._refresh()
        return ok

    def run(self):
        """Run the built realm: REC_ENTER its RECs and serve their exits as the host does, until it
        powers off, no REC can run, or the budget (:data:`RUN_EXITS` exits, :data:`RUN_SECONDS` of
        work) is spent; a realm that is still running continues where it was at the next Run.
        Returns the :class:`~ccalab.host.RunReport` of this Run, or None with an explanation."""
        hd = self.handle
        if hd is None or not self.built or hd.rd not in self.platform.rmm.realms:
            self._say("There is no active realm to run: build it first (Build all), or Reset.", "fault")
            return None
        self._begin()
        try:
            report = self._run_some(hd)
        except (HostError, ValueError, KeyError, CCALabError) as exc:
            self._end()
            self._say(f"Running the realm stopped: {exc}", "fault")
            self._refresh()
            return None
        self._end()
        self.last_report = report
        ok = not report.stopped.startswith("REC_ENTER failed")
        head = f"Run: {_vr._plural(len(report.exits), 'REC exit')}; {report.stopped}."
        if report.console:
            head += " Console: " + " | ".join(report.console[-4:])
        lines = report.text().splitlines()
        self._say(head, "ok" if ok else "fault", detail="\n".join(lines[-40:]))
        self._refresh()
        return report

    def _run_some(self, hd) -> RunReport:
        """The host's run loop with a budget; the handle keeps which RECs are runnable and what the
        host owes each between Runs."""
        report = hd.run(max_exits=RUN_EXITS, max_seconds=RUN_SECONDS)
        if report.paused:
            report.stopped = (f"paused after {_vr._plural(len(report.exits), 'exit')}: the realm is still running "
                              "(press Run to continue)")
        else:
            report.stopped = f"stopped: {report.stopped}"
        return report

    def destroy(self) -> bool:
        """Tear the inspector's realm down and give every granule back to the host; the next
        Build starts a new realm. True if something was destroyed."""
        hd = self.handle
        if hd is None or hd.rd is None:
            self._say("There is no realm of this inspector to destroy.", "fault")
            return False
        p, h = self.platform, self.host
        self._begin()
        try:
            if hd.rd in p.rmm.realms:
                hd.destroy()
            else:  # only delegated so far: give the RD and root RTT granules back
                num = s2tt.rtt_num_start(hd.cfg.s2sz, hd.cfg.rtt_level_start)
                for pa in [hd.rd] + ([hd.rtt_base + i * G for i in range(num)] if hd.rtt_base is not None else []):
                    h.must("GRANULE_UNDELEGATE", pa)
                    h.free(pa)
        except (HostError, ValueError, KeyError, CCALabError) as exc:
            self._end()
            self._say(f"Destroy stopped: {exc}", "fault")
            self._refresh()
            return False
        self._end()
        if hd in h.realms:
            h.realms.remove(hd)
        self.handle = None
        self.stage = 0
        self._say("Destroyed: DATA, RTTs, RECs and the RD are DELEGATED again, then undelegated back to the host "
                  "(their contents were scrubbed first). Build next step starts a new realm.", "ok",
                  detail=_vr.rmi_log_text(self.platform, self.mark, last=60))
        self._refresh()
        return True

    def reset(self) -> None:
        """Replace the machine with a freshly booted one and start again (no realm, every control
        back to its default)."""
        self._detach()
        self._quiet = True
        try:
            new = self.platform.fresh()
            self._attach(new)
            self.host = Host(new)
            self.handle = None
            self.stage = 0
            self.mark = new.events.next_seq
            self.last_report = None
            self._run_state = None
            names = list(self.program.options)
            self.program.value = "hello" if "hello" in names else names[0]
            self.scope.value = "last"
            self.tabs.selected_index = 0
        finally:
            self._quiet = False
        self._say("Reset: a freshly booted machine, no realm yet. Press Build next step.")
        self._refresh()

    def refresh(self) -> None:
        """Update every text panel, and the figure of the selected panel."""
        self._refresh(own=False)

    def _refresh(self, own: bool = True) -> None:
        if self._batch:
            return
        self._stale = False
        self.stale_note.value = ""
        self._sync_select(own)
        self.plan_html.value = _pre(self._plan_text())
        self.build_next_button.disabled = self.built
        self.build_all_button.disabled = self.built
        self._update_panels()
        self._draw_selected()

    # --- panels ------------------------------------------------------------------------------------
    def _since(self) -> int:
        return self.mark if self.scope.value == "last" else 0

    def panel_text(self, name: str) -> str:
        """The text of panel ``name`` (granules, rtt, recs, rim, sequence, log, summary)."""
        if name not in dict(self.PANELS):
            raise KeyError(f"no panel {name!r}; panels: {', '.join(n for n, _ in self.PANELS)}")
        p, rd = self.platform, self._rd()
        no_realm = "No realm yet: press Build next step (REALM_CREATE is stage 2)."
        try:
            if name == "granules":
                return _vr.granule_states_text(p)
            if name == "log":
                return _vr.rmi_log_text(p, last=80)
            if name == "sequence":
                return _vr.sequence_text(p, self._since(), limit=80)
            if rd is None:
                if name == "rim" and self.handle is not None and self.handle.rd is not None:
                    return _vr.rim_log_text(p, self.handle.rd)
                return no_realm
            if name == "rtt":
                return _vr.rtt_tree_text(p, rd)
            if name == "recs":
                return _vr.recs_text(p, rd)
            if name == "rim":
                return _vr.rim_log_text(p, rd)
            return _vr.realm_summary_text(p, rd)
        except ValueError as exc:
            return str(exc)

    def _update_panels(self):
        for name, _ in self.PANELS:
            self.texts[name].value = _pre(self.panel_text(name))

    def _selected(self) -> str:
        k = self.tabs.selected_index
        return self.PANELS[k if k is not None else 0][0]

    def _draw_selected(self):
        if not self.draw:
            return
        name = self._selected()
        if name not in self.outputs:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        p, rd = self.platform, self._rd()
        out = self.outputs[name]
        fig = None
        try:
            if name == "granules":
                fig = _vr.draw_granule_states(p, theme=self.theme)
            elif name == "sequence":
                fig = _vr.draw_sequence(p, self._since(), theme=self.theme)
            elif rd is not None and name == "rtt":
                fig = _vr.draw_rtt_tree(p, rd, theme=self.theme)
            elif rd is not None and name == "rim":
                fig = _vr.draw_rim_log(p, rd, theme=self.theme)
        except ValueError:
            fig = None
        out.clear_output(wait=True)
        if fig is not None:
            with out:
                display(fig)
            plt.close(fig)

    # --- display ---------------------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["RealmInspector", "STAGES", "RUN_EXITS", "RUN_SECONDS"]
