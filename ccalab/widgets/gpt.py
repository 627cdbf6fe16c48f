"""``GranuleProtectionExplorer``: a dashboard to look at the GPT, change it, and try accesses.

Everything the dashboard does is a public method (``delegate()``, ``undelegate()``,
``do_access()``, ``reset()``, ``refresh()``), and every control is an attribute, so a test (or a
notebook's hidden check) can drive it without a browser: set ``.address.value``, call
``.delegate()``, read ``.platform`` and ``.result_html.value``.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ._common import FAULT_STYLE as _FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE, parse_hex, pre as _pre

from ..arch.pas import ALLOWED_PAS, GPI, PAS, SecurityState
from ..firmware import monitor as _monitor
from ..viz import gpt as _vgpt

#: E_RMM_* status value -> name (TF-A ``rmmd`` / EL3-RMM interface).
RMM_STATUS_NAMES = {getattr(_monitor, n): n for n in dir(_monitor) if n.startswith("E_RMM_")}

_STATE_OPTIONS = [("Non-secure", SecurityState.NONSECURE), ("Realm", SecurityState.REALM),
                  ("Secure", SecurityState.SECURE), ("Root", SecurityState.ROOT)]
_PAS_ORDER = (PAS.NONSECURE, PAS.REALM, PAS.SECURE, PAS.ROOT)



def parse_address(text: str) -> int:
    """A physical address from text: hex with or without ``0x``, underscores allowed.

    Raises ValueError with a message a learner can act on.
    """
    return parse_hex(text, "physical address", "0x90000000")


class GranuleProtectionExplorer:
    """Explore granule protection on one :class:`ccalab.Platform`.

    Parameters
    ----------
    platform : Platform, optional
        The machine to explore; a freshly booted default one if omitted.
    theme : {"auto", "light", "dark"}
        Theme for the map figure (see :func:`ccalab.viz.theme.resolve_theme`).
    draw : bool
        Draw the matplotlib map (True) or show only the text map (False, faster, no graphics).

    Attributes
    ----------
    platform : Platform
    address, zoom, state, pas, write, skip_tlbi : ipywidgets controls
    delegate_button, undelegate_button, access_button, reset_button, refresh_button : buttons
    message, result_html, map_text, cache_html, events_html, walk_html : HTML panels
    map_output : ipywidgets.Output holding the figure
    ui : the root widget
    """

    ZOOMS = ("Whole PPS", "DRAM", "Around the address")

    def __init__(self, platform=None, theme: str = "auto", draw: bool = True):
        if platform is None:
            from ..platform import Platform

            platform = Platform()
        self.platform = platform
        self.theme = theme
        self.draw = draw
        self.last_status = None
        self._busy = False
        self._quiet = False  # set while reset() puts controls back, so observers stay silent
        self._map_stale = False
        self._build()
        self._attach(platform)
        self.refresh(redraw=True)

    # --- construction ----------------------------------------------------------------------
    def _zoom_options(self):
        return list(self.ZOOMS) + [r.name for r in self.platform.pas_regions]

    def _build(self):
        style = {"description_width": "initial"}
        self.title = W.HTML("<b>Granule Protection Explorer</b>: the GPT decides which physical address "
                            "space may use each granule of memory.")
        self.zoom = W.Dropdown(options=self._zoom_options(), value="DRAM", description="Show:",
                               tooltip="Which part of physical memory the map shows", style=style)
        self.refresh_button = W.Button(description="Refresh map", icon="refresh",
                                       tooltip="Redraw the map from the GPT in memory")
        self.map_output = W.Output(layout=W.Layout(min_height="120px"))
        self.map_text = W.HTML()
        self.map_note = W.HTML()
        self.text_accordion = W.Accordion(children=[self.map_text])
        self.text_accordion.set_title(0, "Text version of the map")
        self.text_accordion.selected_index = None if self.draw else 0

        self.address = W.Text(value="", placeholder="e.g. 0x90000000", description="Physical address:",
                              continuous_update=False, style=style)
        self.delegate_button = W.Button(description="Delegate", button_style="warning",
                                        tooltip="RMM_GTSI_DELEGATE: Non-secure -> Realm (what the RMM asks EL3 "
                                                "for in RMI_GRANULE_DELEGATE)")
        self.undelegate_button = W.Button(description="Undelegate",
                                          tooltip="RMM_GTSI_UNDELEGATE: Realm -> Non-secure")
        self.message = W.HTML()

        self.state = W.Dropdown(options=_STATE_OPTIONS, value=SecurityState.NONSECURE,
                                description="PE security state:", style=style)
        self.pas = W.Dropdown(options=self._pas_options(SecurityState.NONSECURE), value=PAS.NONSECURE,
                              description="Access PAS:", style=style)
        self.write = W.Checkbox(value=False, description="Write (unticked: read)", indent=False)
        self.access_button = W.Button(description="Access", button_style="primary",
                                      tooltip="Issue one 8-byte access and explain the granule protection check")
        self.result_html = W.HTML()
        self.walk_html = W.HTML()
        self.walk_accordion = W.Accordion(children=[self.walk_html])
        self.walk_accordion.set_title(0, "GPT walk of the last access")
        self.walk_accordion.selected_index = None

        self.skip_tlbi = W.Checkbox(value=False, indent=False,
                                    description="What-if experiment: a deliberate firmware bug - EL3 skips the "
                                                "TLBI after changing the GPT (stale GPC cache)",
                                    layout=W.Layout(width="auto"))
        self.cache_html = W.HTML()
        self.events_html = W.HTML()
        self.info_tabs = W.Tab(children=[self.cache_html, self.events_html])
        self.info_tabs.set_title(0, "GPC cache")
        self.info_tabs.set_title(1, "Recent events")
        self.reset_button = W.Button(description="Reset", icon="undo", button_style="danger",
                                     tooltip="Boot a fresh machine with the same parameters and reset every control")

        self.zoom.observe(self._on_zoom, names="value")
        self.state.observe(self._on_state, names="value")
        self.skip_tlbi.observe(self._on_skip_tlbi, names="value")
        self.address.observe(self._on_address, names="value")
        self.refresh_button.on_click(lambda _b: self.refresh(redraw=True))
        self.delegate_button.on_click(lambda _b: self.delegate())
        self.undelegate_button.on_click(lambda _b: self.undelegate())
        self.access_button.on_click(lambda _b: self.do_access())
        self.reset_button.on_click(lambda _b: self.reset())

        self.ui = W.VBox([
            self.title,
            W.HBox([self.zoom, self.refresh_button]),
            self.map_note,
            self.map_output,
            self.text_accordion,
            W.HTML("<b>Change the GPT</b> (as the RMM does through EL3)"),
            W.HBox([self.address, self.delegate_button, self.undelegate_button]),
            self.message,
            W.HTML("<b>Try an access</b>"),
            W.HBox([self.state, self.pas, self.write, self.access_button]),
            self.result_html,
            self.walk_accordion,
            self.skip_tlbi,
            self.info_tabs,
            self.reset_button,
        ])

    @staticmethod
    def _pas_options(state):
        allowed = ALLOWED_PAS[SecurityState(state)]
        return [(p.label, p) for p in _PAS_ORDER if p in allowed]

    def _attach(self, platform):
        self.platform = platform
        platform.events.subscribe(self._on_event)

    def _detach(self):
        self.platform.events.unsubscribe(self._on_event)

    # --- callbacks -------------------------------------------------------------------------
    def _on_event(self, _event):
        if self._busy:
            return
        # something outside the dashboard changed the machine: cheap panels now, map on request
        self._map_stale = True
        self._update_panels()

    def _on_zoom(self, _change):
        if not self._quiet:
            self.refresh(redraw=True)

    def _on_address(self, _change):
        if not self._quiet and self.zoom.value == "Around the address":
            self.refresh(redraw=True)

    def _on_state(self, change):
        opts = self._pas_options(change["new"])
        own = SecurityState(change["new"]).own_pas
        self.pas.options = opts
        self.pas.value = own

    def _on_skip_tlbi(self, change):
        self.platform.whatif.skip_gpt_tlbi = bool(change["new"])
        if self._quiet:
            return
        self.platform.events.append("whatif", "learner",
                                    f"what-if skip_gpt_tlbi = {bool(change['new'])} (deliberate firmware bug)",
                                    skip_gpt_tlbi=bool(change["new"]))

    # --- helpers ---------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note") -> None:
        style = {"ok": _OK_STYLE, "fault": _FAULT_STYLE}.get(kind, _NOTE_STYLE)
        self.message.value = f"<div style='{style}'>{html.escape(text)}</div>"

    def address_value(self):
        """The address in the box as an int, or None (with a message shown) if it is not valid."""
        try:
            pa = parse_address(self.address.value)
        except ValueError as exc:
            self._say(str(exc), "fault")
            return None
        if pa >> self.platform.pamax:
            self._say(f"{pa:#x} is beyond this machine's {self.platform.pamax}-bit physical address space.",
                      "fault")
            return None
        return pa

    def _range(self):
        p = self.platform
        z = self.zoom.value
        if z == "Whole PPS":
            return None, None
        if z == "DRAM":
            dram = [r for r in p.memory_map if r.kind == "dram"]
            return min(r.base for r in dram), max(r.end for r in dram)
        if z == "Around the address":
            try:
                pa = parse_address(self.address.value)
            except ValueError:
                pa = p.ns_dram().base
            if pa >> p.pamax:
                pa = p.ns_dram().base
            span = 64 * p.granule_size
            lo = pa - pa % span
            return lo, min(lo + span, 1 << p.pamax)
        r = p.region(z)
        return r.base, r.end

    # --- public actions --------------------------------------------------------------------
    def refresh(self, redraw: bool = True) -> None:
        """Update the text panels and (with ``redraw``) the map picture and its text twin."""
        if redraw:
            start, end = self._range()
            self.map_text.value = _pre(_vgpt.granule_map_text(self.platform, start, end))
            self._map_stale = False
            if self.draw:
                self._draw(start, end)
        self.map_note.value = ("<i>The machine changed outside this dashboard: press Refresh map.</i>"
                               if self._map_stale else "")
        self._update_panels()

    def _draw(self, start, end):
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = _vgpt.draw_granule_map(self.platform, start, end, theme=self.theme)
        self.map_output.clear_output(wait=True)
        with self.map_output:
            display(fig)
        plt.close(fig)

    def _update_panels(self):
        p = self.platform
        entries = p.gpc_cache.entries()
        st = p.gpc_cache.stats()
        lines = [f"checks {st['checks']}, hits {st['hits']}, misses {st['misses']}, GPT reads {st['gpt_reads']}, "
                 f"faults {st['faults']}", f"{len(entries)} cached entries:"]
        for base, size, gpi, cls in entries[:24]:
            try:
                label = GPI(gpi).label
            except ValueError:
                label = f"{gpi:#x}"
            lines.append(f"  {base:#014x} +{_vgpt._fmt_size(size):>7}  {label:<11} ({cls})")
        if len(entries) > 24:
            lines.append(f"  ... {len(entries) - 24} more")
        if p.whatif.skip_gpt_tlbi:
            lines.append("What-if on: EL3 skips its TLBIs, so entries above may be stale.")
        self.cache_html.value = _pre("\n".join(lines))
        self.events_html.value = _pre(p.events.text(last=12) or "(no events yet)")
        self.map_note.value = ("<i>The machine changed outside this dashboard: press Refresh map.</i>"
                               if self._map_stale else "")

    def _transition(self, which: str) -> int | None:
        pa = self.address_value()
        if pa is None:
            return None
        p = self.platform
        fn = p.monitor.gtsi_delegate if which == "delegate" else p.monitor.gtsi_undelegate
        smc = "RMM_GTSI_DELEGATE" if which == "delegate" else "RMM_GTSI_UNDELEGATE"
        before = p.gpi(pa) if not (pa >> p.gpc_config.t) else None
        self._busy = True
        try:
            status = fn(pa)
        finally:
            self._busy = False
        self.last_status = status
        name = RMM_STATUS_NAMES.get(status, str(status))
        after = p.gpi(pa) if not (pa >> p.gpc_config.t) else None
        if status == 0:
            self._say(f"{smc}({pa:#x}) -> {name}: granule {pa:#x} is now {after.label} "
                      f"(was {before.label}).", "ok")
        else:
            why = {"E_RMM_BAD_ADDR": "the address is not a granule-aligned address inside a GPT L1 table "
                                     f"(granules are {p.granule_size:#x} bytes)",
                   "E_RMM_BAD_PAS": "the granule is not in the PAS this call moves it from "
                                    f"(it is {before.label if before is not None else 'not covered'})"}.get(name, "")
            self._say(f"{smc}({pa:#x}) -> {name}" + (f": {why}." if why else "."), "fault")
        self.refresh(redraw=True)
        return status

    def delegate(self) -> int | None:
        """Ask EL3 to move the granule at ``address`` from Non-secure to Realm.

        Returns the ``E_RMM_*`` status, or None when the address box does not hold an address.
        """
        return self._transition("delegate")

    def undelegate(self) -> int | None:
        """Ask EL3 to move the granule at ``address`` from Realm back to Non-secure."""
        return self._transition("undelegate")

    def do_access(self):
        """Issue one access with the current controls; show and return the :class:`AccessResult`."""
        pa = self.address_value()
        if pa is None:
            return None
        p = self.platform
        self._busy = True
        try:
            result = p.access(self.state.value, pa, write=bool(self.write.value), pas=self.pas.value)
        except (ValueError, TypeError) as exc:
            self._busy = False
            self._say(str(exc), "fault")
            return None
        finally:
            self._busy = False
        self.message.value = ""
        self.result_html.value = self._result_html(result)
        steps = p.gpt_walk(pa)
        lines = [f"L{s.level}[{s.index}] at {s.address:#x} = "
                 f"{'bus error' if s.descriptor is None else f'{s.descriptor:#018x}'}: {s.text}" for s in steps]
        self.walk_html.value = _pre("\n".join(lines) or "no GPT entry (above the protected PA size)")
        self._update_panels()
        return result

    @staticmethod
    def _result_html(r) -> str:
        op = "Write" if r.write else "Read"
        head = f"{op} of PA {r.pa:#x} from {r.state.label} EL{r.el} in the {r.pas.label} PAS"
        rows = [("GPT entry used", r.gpt_entry)]
        if r.fault is not None:
            verdict = "FAULT"
            style = _FAULT_STYLE
            rows.insert(0, ("Why", r.fault.explain()))
            rows.append(("Exception", r.report.summary))
        elif r.bus_error:
            verdict = "passed the GPC, then a bus error"
            style = _FAULT_STYLE
            rows.insert(0, ("Bus", r.bus_error))
        else:
            verdict = "allowed"
            style = _OK_STYLE
            if r.data is not None:
                rows.append(("Data read", r.data.hex(" ")))
        body = "".join(f"<tr><td style='vertical-align:top;padding-right:8px'><b>{html.escape(k)}</b></td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
        return (f"<div style='{style}'><b>{html.escape(head)}: {verdict}</b>"
                f"<table style='margin-top:4px'>{body}</table>"
                f"<details><summary>Full explanation</summary>{html.escape(r.explain())}</details></div>")

    def reset(self) -> None:
        """Replace the machine with a freshly booted one (``platform.fresh()``) and reset every control."""
        self._detach()
        self._busy = self._quiet = True
        try:
            new = self.platform.fresh()
            self._attach(new)
            self.address.value = ""
            self.state.value = SecurityState.NONSECURE
            self.pas.options = self._pas_options(SecurityState.NONSECURE)
            self.pas.value = PAS.NONSECURE
            self.write.value = False
            self.skip_tlbi.value = False
            new.whatif.skip_gpt_tlbi = False
            zooms = self._zoom_options()
            if list(self.zoom.options) != zooms:
                self.zoom.options = zooms
            self.zoom.value = "DRAM"
        finally:
            self._busy = self._quiet = False
        self.last_status = None
        self.result_html.value = ""
        self.walk_html.value = ""
        self._say("Reset: a freshly booted machine, every control back to its default.")
        self.refresh(redraw=True)

    # --- display ---------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["GranuleProtectionExplorer", "parse_address", "RMM_STATUS_NAMES"]
