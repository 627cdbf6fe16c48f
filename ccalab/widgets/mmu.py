"""``TranslationExplorer``: translate one VA through stage 1 and stage 2, watch the nested walk,
flip descriptor bits in memory, and see what the TLB keeps until it is invalidated.

Everything the dashboard does is a public method (``translate()``, ``set_leaf_bit()``,
``tlbi()``, ``reset()``, ``show_step()``), and every control is an attribute, so a test (or a
notebook's hidden check) can drive it without a browser: set ``.va.value``, call
``.translate()``, read ``.last_result`` and ``.result_html.value``.

Introduced in ``notebooks/02-address-translation.ipynb``.

Spec: Arm ARM K.a D8 (VMSAv8-64 descriptors, 4KB granule), D8.16 (TLB maintenance:
``TLBI VAE1``, ``TLBI VMALLS12E1``); bit positions as in the ccalab spec digest, section 4.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ._common import (FAULT_STYLE as _FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE,
                      WARN_STYLE as _WARN_STYLE, box as _box, parse_hex, pre as _pre)

from ..arch.mmu.descriptors import ADDR, LEVEL_SHIFT, describe
from ..arch.pas import PAS
from ..viz import mmu as _vmmu


#: Leaf-descriptor fields a learner can change: name -> (lowest bit, width).
S1_FIELDS = {"valid": (0, 1), "AF": (10, 1), "AP": (6, 2), "PXN": (53, 1), "UXN": (54, 1)}
S2_FIELDS = {"valid": (0, 1), "AF": (10, 1), "read": (6, 1), "write": (7, 1), "XN": (53, 2), "NS": (55, 1)}
_ALIASES = {"s2ap_r": "read", "s2ap[0]": "read", "r": "read", "s2ap_w": "write", "s2ap[1]": "write",
            "w": "write", "ap[2:1]": "AP", "v": "valid", "xn[1:0]": "XN"}

AP_OPTIONS = [("00: EL1 RW, EL0 none", 0), ("01: EL1 RW, EL0 RW", 1), ("10: EL1 RO, EL0 none", 2),
              ("11: EL1 RO, EL0 RO", 3)]
XN_OPTIONS = [("00: EL1 and EL0 may execute", 0), ("01: EL0 only", 1), ("10: nobody executes", 2),
              ("11: EL1 only", 3)]

TLB_NOTE = ("Changing a descriptor here only writes memory, exactly as a store by the hypervisor or the guest "
            "would. It does <b>not</b> invalidate the TLB: a translation the TLB already holds keeps being used "
            "(a <i>stale</i> entry) until software issues a TLBI. <b>TLBI VAE1</b> drops the entry for this VA "
            "(stage 1 and the combined stage-1+2 entry); <b>TLBI VMALLS12E1</b> drops every EL1&amp;0 entry of "
            "this VMID, and the walk cache of stage-2 translations of table addresses too.")


def parse_va(text: str) -> int:
    """A virtual address from text: hex with or without ``0x``, underscores allowed.

    Raises ValueError with a message a learner can act on.
    """
    va = parse_hex(text, "virtual address", "0x4000000000")
    if va >> 64:
        raise ValueError(f"{va:#x} does not fit in 64 bits: a virtual address is a 64-bit value.")
    return va


class TranslationExplorer:
    """Explore one guest's two-stage address translation.

    Parameters
    ----------
    setup : GuestSetup or callable, optional
        The guest to explore (:func:`ccalab.scenarios.two_stage_guest` by default). A
        zero-argument callable returning a GuestSetup makes Reset rebuild exactly that set-up;
        a GuestSetup instance is rebuilt by ``two_stage_guest`` with its security state,
        stage-2 start level and IPA size on a fresh machine.
    theme : {"auto", "light", "dark"}
    draw : bool
        Draw the walk grid with matplotlib (True), or show only the text (False: faster, no graphics).

    Attributes
    ----------
    setup, platform, pe : the guest, its machine and its PE
    va, access, el : the address box and the access/exception-level dropdowns
    translate_button, tlbi_va_button, tlbi_all_button, reset_button : buttons
    tlb_enabled : checkbox (TLB on/off)
    s1_valid, s1_af, s1_ap, s1_uxn, s1_pxn : stage-1 leaf descriptor controls
    s2_valid, s2_af, s2_read, s2_write, s2_xn, s2_ns : stage-2 leaf descriptor controls
    step_slider, play : walk step controls
    message, result_html, step_html, s1_html, s2_html, tlb_html, walk_html : HTML panels
    grid_output : ipywidgets.Output holding the figure
    last_result : the last :class:`TranslationResult` (None before the first translation)
    view : the :class:`ccalab.viz.mmu.WalkView` shown
    ui : the root widget
    """

    def __init__(self, setup=None, theme: str = "auto", draw: bool = True):
        self._factory = self._make_factory(setup)
        self.theme = theme
        self.draw = draw
        self._quiet = False
        self.last_result = None
        self.view = None
        self._frames = []
        self._adopt(setup if setup is not None and not callable(setup) else self._factory())
        self._build()
        self._preview()

    # --- construction ------------------------------------------------------------------------
    @staticmethod
    def _make_factory(setup):
        from ..scenarios import two_stage_guest

        if setup is None:
            return two_stage_guest
        if callable(setup):
            return setup
        pe = setup.pe
        realm = pe.security_state == PAS.REALM
        rg = pe.regime

        def again():
            return two_stage_guest(realm=realm, s2_level=setup.s2.root_level, s2_ia=setup.s2.ia_bits,
                                   platform=setup.platform.fresh(), pe_index=pe.index, vmid=rg.vmid, asid=rg.asid)
        return again

    def _adopt(self, setup):
        self.setup = setup
        self.platform = setup.platform
        self.pe = setup.pe
        self.last_va = int(setup.va)

    @property
    def realm(self) -> bool:
        return self.pe.security_state == PAS.REALM

    def _build(self):
        style = {"description_width": "initial"}
        self.title = W.HTML("<b>Translation Explorer</b>: one guest virtual address, through stage 1 (the guest's "
                            "tables) and stage 2 (the hypervisor's" + (" or the RMM's" if self.realm else "")
                            + "), with the TLB in front.")
        self.va = W.Text(value=hex(self.setup.va), placeholder="e.g. 0x4000000000", description="Virtual address:",
                         continuous_update=False, style=style)
        self.access = W.Dropdown(options=["read", "write", "exec"], value="read", description="Access:", style=style)
        self.el = W.Dropdown(options=[("EL1 (guest kernel)", 1), ("EL0 (guest user)", 0)], value=1,
                             description="From:", style=style)
        self.translate_button = W.Button(description="Translate", button_style="primary",
                                         tooltip="Translate the VA as this access would: TLB, then the walks, then "
                                                 "the granule protection check")
        self.message = W.HTML()
        self.result_html = W.HTML()

        self.grid_output = W.Output(layout=W.Layout(min_height="120px"))
        self.step_slider = W.IntSlider(value=0, min=0, max=0, description="Walk step:", style=style,
                                       continuous_update=True, layout=W.Layout(width="420px"))
        self.play = W.Play(value=0, min=0, max=0, step=1, interval=700, description="Play the walk",
                           tooltip="Play the walk one descriptor read at a time")
        W.jslink((self.play, "value"), (self.step_slider, "value"))
        self.step_html = W.HTML()

        self.s1_valid = W.Checkbox(description="valid (bit 0)", indent=False)
        self.s1_af = W.Checkbox(description="AF (bit 10)", indent=False)
        self.s1_ap = W.Dropdown(options=AP_OPTIONS, description="AP[2:1]:", style=style)
        self.s1_uxn = W.Checkbox(description="UXN (bit 54)", indent=False)
        self.s1_pxn = W.Checkbox(description="PXN (bit 53)", indent=False)
        self.s1_html = W.HTML()
        self.s2_valid = W.Checkbox(description="valid (bit 0)", indent=False)
        self.s2_af = W.Checkbox(description="AF (bit 10)", indent=False)
        self.s2_read = W.Checkbox(description="S2AP read (bit 6)", indent=False)
        self.s2_write = W.Checkbox(description="S2AP write (bit 7)", indent=False)
        self.s2_xn = W.Dropdown(options=XN_OPTIONS, description="XN[1:0]:", style=style)
        self.s2_ns = W.Checkbox(description="NS (bit 55, Realm only)", indent=False)
        self.s2_html = W.HTML()
        self._controls = {1: {"valid": self.s1_valid, "AF": self.s1_af, "AP": self.s1_ap, "UXN": self.s1_uxn,
                              "PXN": self.s1_pxn},
                          2: {"valid": self.s2_valid, "AF": self.s2_af, "read": self.s2_read, "write": self.s2_write,
                              "XN": self.s2_xn, "NS": self.s2_ns}}
        for stage, ctls in self._controls.items():
            for name, ctl in ctls.items():
                ctl.observe(self._on_bit(stage, name), names="value")

        self.tlb_note = W.HTML(_box(TLB_NOTE, _NOTE_STYLE))
        self.tlbi_va_button = W.Button(description="TLBI VAE1", tooltip="Invalidate this VA's entries (this ASID, or "
                                                                          "global) at EL1&0")
        self.tlbi_all_button = W.Button(description="TLBI VMALLS12E1",
                                        tooltip="Invalidate every stage-1 and stage-2 entry of this VMID, "
                                                "walk cache included")
        self.tlb_enabled = W.Checkbox(value=self.pe.tlb_enabled, description="TLB on", indent=False)
        self.tlb_html = W.HTML()
        self.walk_html = W.HTML()
        self.walk_accordion = W.Accordion(children=[self.walk_html])
        self.walk_accordion.set_title(0, "Text version of the walk")
        self.walk_accordion.selected_index = None if self.draw else 0
        self.reset_button = W.Button(description="Reset", icon="undo", button_style="danger",
                                     tooltip="Build the guest afresh and put every control back")

        self.translate_button.on_click(lambda _b: self.translate())
        self.tlbi_va_button.on_click(lambda _b: self.tlbi("VAE1"))
        self.tlbi_all_button.on_click(lambda _b: self.tlbi("VMALLS12E1"))
        self.reset_button.on_click(lambda _b: self.reset())
        self.tlb_enabled.observe(self._on_tlb_enabled, names="value")
        self.step_slider.observe(self._on_step, names="value")
        self.va.observe(self._on_va, names="value")

        self.ui = W.VBox([
            self.title,
            W.HBox([self.va, self.access, self.el, self.translate_button]),
            self.message,
            self.result_html,
            W.HTML("<b>The nested walk</b> (rows: stage-1 levels; columns: the stage-2 walk of each table address)"),
            W.HBox([self.play, self.step_slider]),
            self.step_html,
            self.grid_output,
            self.walk_accordion,
            W.HTML("<b>Change the leaf descriptors of this VA</b> (in simulated memory)"),
            self.tlb_note,
            W.HTML("Stage 1 (the guest's page table entry):"),
            W.HBox([self.s1_valid, self.s1_af, self.s1_uxn, self.s1_pxn, self.s1_ap]),
            self.s1_html,
            W.HTML("Stage 2 (the " + ("RMM's RTT" if self.realm else "hypervisor's") + " entry for the IPA):"),
            W.HBox([self.s2_valid, self.s2_af, self.s2_read, self.s2_write, self.s2_ns, self.s2_xn]),
            self.s2_html,
            W.HTML("<b>TLB</b>"),
            W.HBox([self.tlbi_va_button, self.tlbi_all_button, self.tlb_enabled]),
            self.tlb_html,
            self.reset_button,
        ])

    # --- observers ---------------------------------------------------------------------------
    def _on_bit(self, stage, name):
        def handler(change):
            if self._quiet:
                return
            self.set_leaf_bit(stage, name, change["new"])
        return handler

    def _on_tlb_enabled(self, change):
        self.pe.tlb_enabled = bool(change["new"])
        if not self._quiet:
            self._say("TLB " + ("on: translations are cached again." if change["new"] else
                                "off: every translation walks the tables (see the counters grow)."))
            self._update_tlb()

    def _on_step(self, change):
        self.show_step(change["new"])

    def _on_va(self, _change):
        if self._quiet:
            return
        try:
            self.last_va = parse_va(self.va.value)
        except ValueError:
            return
        self._update_leaves()

    # --- helpers -------------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note") -> None:
        style = {"ok": _OK_STYLE, "fault": _FAULT_STYLE, "warn": _WARN_STYLE}.get(kind, _NOTE_STYLE)
        self.message.value = _box(html.escape(text), style)

    def va_value(self):
        """The VA in the box as an int, or None (with a message shown) if it is not valid."""
        try:
            return parse_va(self.va.value)
        except ValueError as exc:
            self._say(str(exc), "fault")
            return None

    def leaf(self, stage: int):
        """``(address, level, descriptor)`` of the leaf descriptor of the current VA at ``stage``
        (stage 2: of the IPA the stage-1 leaf gives), or None when the tables do not reach one."""
        va = self.last_va
        if stage == 1:
            return self._find_leaf(self.setup.s1, va)
        s1 = self._find_leaf(self.setup.s1, va)
        if s1 is None:
            return None
        _addr, lvl, desc = s1
        size = 1 << LEVEL_SHIFT[lvl]
        ipa = (desc & ADDR & ~(size - 1)) | (va & (size - 1))
        return self._find_leaf(self.setup.s2, ipa)

    def _find_leaf(self, builder, ia):
        mem = self.platform.memory
        for lvl in range(builder.root_level, 4):
            addr = builder.descriptor_address(ia, lvl)
            if addr is None:
                return None
            desc = mem.read64(addr)
            if desc is None:
                return None
            if lvl == 3 or desc & 3 == 1:
                return addr, lvl, desc  # a page, a block, or an invalid entry at level 3
            if desc & 1 == 0:
                # an invalid entry above level 3: a block switched off here keeps its other bits;
                # an empty entry means the VA is not mapped at all
                return (addr, lvl, desc) if desc and lvl in (1, 2) else None
        return None  # pragma: no cover

    @staticmethod
    def _field(stage: int, name: str):
        fields = S1_FIELDS if stage == 1 else S2_FIELDS
        key = _ALIASES.get(str(name).lower(), name)
        for k in fields:
            if k.lower() == str(key).lower():
                return k, fields[k]
        raise ValueError(f"stage-{stage} leaf fields are {', '.join(fields)}; not {name!r}")

    # --- public actions --------------------------------------------------------------------------
    def translate(self):
        """Translate the VA in the box for the chosen access and EL; show and return the
        :class:`TranslationResult` (None, with a message, when the box holds no valid VA)."""
        va = self.va_value()
        if va is None:
            return None
        self.last_va = va
        pe = self.pe
        if pe.el != self.el.value:
            pe.el = self.el.value
        access = self.access.value
        view = _vmmu.walk_view(pe, va, access)  # what the translation will do, worked out first
        result = pe.translate(va, access)
        if view.tlb_hit != result.tlb_hit:  # pragma: no cover - the look-ahead mirrors the kernel
            view = _vmmu.walk_view(pe, va, access, result=result)
        self.last_result = result
        self.message.value = ""
        self.result_html.value = self._result_html(result, view)
        self._show_view(view, _vmmu.walk_text(pe, va, access, result=result, view=view))
        self._update_leaves()
        self._update_tlb()
        return result

    def _result_html(self, r, v) -> str:
        op = {"read": "Read", "write": "Write", "exec": "Instruction fetch"}[v.access]
        head = f"{op} of VA {r.va:#x} at EL{v.el}"
        rows = []
        if r.fault is None:
            verdict, style = "allowed", _OK_STYLE
            if r.ipa is not None:
                rows.append(("IPA", f"{r.ipa:#x}"))
            rows.append(("PA", f"{r.pa:#x} in the {r.pas.label} PAS"))
            if r.tlb_hit:
                rows.append(("How", "TLB hit: no descriptor read, no granule protection check"))
            else:
                saved = sum(1 for a in v.reads if a.skipped)
                rows.append(("How", f"walk: {v.n_reads} descriptor reads + {v.n_gpc} GPC checks"
                             + (f" ({saved} stage-2 reads saved by the walk cache)" if saved else "")))
        else:
            f = r.fault
            verdict, style = "FAULT", _FAULT_STYLE
            rows.append(("Fault", f"{f.kind.name.replace('_', ' ').lower()}, stage {f.stage}, level {f.level}, "
                                  f"FSC {f.fsc:#04x}" + (", S1PTW" if f.s1ptw else "")))
            rows.append(("Why", f.explain()))
            rows.append(("Who takes it", _vmmu.who_takes(f, self.pe.regime)))
        extra = ""
        if r.tlb_hit and (v.fault is not None or (v.pa is not None and v.pa != r.pa)):
            now = v.fault.explain() if v.fault is not None else f"PA {v.pa:#x}"
            extra = _box("<b>Stale TLB entry.</b> The tables in memory now say: " + html.escape(now)
                         + ". The TLB still holds the old translation; issue a TLBI to make the change visible.",
                         _WARN_STYLE)
        body = "".join(f"<tr><td style='vertical-align:top;padding-right:8px'><b>{html.escape(k)}</b></td>"
                       f"<td>{html.escape(val)}</td></tr>" for k, val in rows)
        return (_box(f"<b>{html.escape(head)}: {verdict}</b><table style='margin-top:4px'>{body}</table>", style)
                + extra)

    def _show_view(self, view, text: str) -> None:
        self.view = view
        self._frames = _vmmu.walk_frames(self.pe, view.va, view.access, view=view)
        n = len(view.reads)
        self.walk_html.value = _pre(text)
        self._quiet = True
        try:
            self.play.max = n
            self.step_slider.max = n
            self.step_slider.value = n
            self.play.value = n
        finally:
            self._quiet = False
        self.show_step(n)

    def _preview(self) -> None:
        """Show what translating the VA in the box would do, without translating."""
        va = self.last_va
        view = _vmmu.walk_view(self.pe, va, self.access.value)
        self._show_view(view, _vmmu.walk_text(self.pe, va, self.access.value, view=view))
        self.result_html.value = _box("Press <b>Translate</b>: the grid shows the walk this translation will make.",
                                      _NOTE_STYLE)
        self._update_leaves()
        self._update_tlb()

    def show_step(self, k: int) -> None:
        """Show the walk after ``k`` descriptor reads (the slider and Play drive this)."""
        if self.view is None or not self._frames:
            return
        k = max(0, min(int(k), len(self._frames) - 1))
        self.step_html.value = _pre(self._frames[k].text)
        if self.draw:
            self._draw(k)

    def _draw(self, k: int) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        n = len(self.view.reads)
        fig = _vmmu.draw_walk_grid(self.pe, self.view.va, self.view.access, theme=self.theme,
                                   step=None if k >= n else k, view=self.view)
        self.grid_output.clear_output(wait=True)
        with self.grid_output:
            display(fig)
        plt.close(fig)

    def set_leaf_bit(self, stage: int, name: str, value) -> int | None:
        """Write one field of the leaf descriptor of the current VA at ``stage`` (1 or 2) in memory.

        ``name``: stage 1 ``valid``, ``AF``, ``AP`` (0-3), ``UXN``, ``PXN``; stage 2 ``valid``,
        ``AF``, ``read``, ``write`` (S2AP), ``XN`` (0-3; True means 0b10), ``NS`` (honoured in a
        Realm's stage 2). The TLB is deliberately left alone: see :data:`TLB_NOTE`.
        Returns the new descriptor, or None (with a message) when there is no leaf to change.
        """
        if stage not in (1, 2):
            raise ValueError(f"stage is 1 or 2, not {stage!r}")
        key, (lo, width) = self._field(stage, name)
        found = self.leaf(stage)
        if found is None:
            self._say(f"The current VA has no stage-{stage} leaf descriptor to change (a table on the way is "
                      f"missing).", "fault")
            return None
        addr, lvl, old = found
        if key == "XN" and isinstance(value, bool):
            v = 2 if value else 0  # "execute never": XN[1:0] = 0b10
        elif width == 1:
            v = int(bool(value))
        else:
            v = int(value)
        if not 0 <= v < (1 << width):
            raise ValueError(f"{key} is a {width}-bit field; {value!r} does not fit")
        mask = ((1 << width) - 1) << lo
        new = (old & ~mask) | (v << lo)
        self.platform.memory.write64(addr, new)
        where = "IPA" if (stage == 1 and self.pe.regime.s2_enabled) else "PA"
        self.platform.events.append("mmu.descriptor", "learner",
                                    f"stage-{stage} L{lvl} descriptor at {where} {addr:#x}: {key} = {v} "
                                    f"({old:#018x} -> {new:#018x}), no TLBI", stage=stage, address=addr,
                                    old=old, new=new)
        self._say(f"Wrote the stage-{stage} level-{lvl} descriptor at {where} {addr:#x}: {key} = {v} "
                  f"({old:#018x} -> {new:#018x}). The TLB was not invalidated: translate again to see whether "
                  f"a stale entry is still used, then try a TLBI.", "warn")
        self._update_leaves()
        return new

    def tlbi(self, op: str) -> int:
        """Issue ``TLBI <op>`` on the PE: ``VAE1`` (for the current VA) or ``VMALLS12E1``, or any
        other operation of :meth:`PE.tlbi` (one that needs an argument gets the current VA, or
        for ``IPAS2E1`` the current IPA). Returns the number of entries dropped."""
        op = str(op).upper().replace("TLBI ", "").strip()
        va = self.last_va
        arg = None
        if op in ("VAE1", "VALE1", "VAAE1", "VAE2", "VAE3"):
            arg = va
        elif op == "IPAS2E1":
            s1 = self.leaf(1)
            arg = (s1[2] & ADDR) if s1 is not None else 0
        elif op == "ASIDE1":
            arg = self.pe.regime.asid
        n = self.pe.tlbi(op, arg)
        what = f"TLBI {op}" + (f" {arg:#x}" if arg is not None else "")
        self._say(f"{what}: {n} entr{'y' if n == 1 else 'ies'} dropped. The next translation "
                  f"{'walks the tables again' if n else 'is unchanged (nothing was cached for it)'}.", "ok")
        self._update_tlb()
        return n

    def reset(self) -> None:
        """Build the guest afresh (same parameters) and put every control back to its default."""
        self._adopt(self._factory())
        self._quiet = True
        try:
            self.va.value = hex(self.setup.va)
            self.access.value = "read"
            self.el.value = 1
            self.tlb_enabled.value = True
            self.pe.tlb_enabled = True
        finally:
            self._quiet = False
        self.last_result = None
        self.message.value = ""
        self._preview()
        self._say("Reset: the guest is built afresh (tables, TLB and counters), every control is back.")

    # --- panels ------------------------------------------------------------------------------------
    def _update_leaves(self) -> None:
        self._quiet = True
        try:
            for stage, panel in ((1, self.s1_html), (2, self.s2_html)):
                found = self.leaf(stage)
                ctls = self._controls[stage]
                for ctl in ctls.values():
                    ctl.disabled = found is None
                if found is None:
                    panel.value = _pre(f"no stage-{stage} leaf descriptor for this address")
                    continue
                addr, lvl, desc = found
                fields = S1_FIELDS if stage == 1 else S2_FIELDS
                for name, (lo, width) in fields.items():
                    val = (desc >> lo) & ((1 << width) - 1)
                    ctls[name].value = val if width > 1 else bool(val)
                if stage == 2:
                    self.s2_ns.disabled = not self.realm
                where = "IPA" if (stage == 1 and self.pe.regime.s2_enabled) else "PA"
                panel.value = _pre(f"L{lvl} descriptor at {where} {addr:#x} = {desc:#018x}: "
                                   f"{describe(desc, lvl, stage)}")
        finally:
            self._quiet = False

    def _update_tlb(self) -> None:
        self.tlb_html.value = _pre(_vmmu.tlb_text(self.pe) + "\n\n" + _vmmu.cost_text(self.pe))

    # --- display -------------------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["TranslationExplorer", "parse_va", "S1_FIELDS", "S2_FIELDS", "TLB_NOTE"]
