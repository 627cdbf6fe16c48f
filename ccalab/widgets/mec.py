"""``MemoryEncryptionExplorer``: write, read, probe and tamper with encrypted Realm memory.

The dashboard puts three observers of the same bytes next to each other: a Realm context (PAS and
MECID) that sees plaintext, a physical attacker on the DRAM bus who sees ciphertext (and can flip
bits), and the host, whose accesses the granule protection check refuses. It also shows which
encryption context every granule's cached plaintext belongs to, and lets the learner retire a
MECID's key (crypto-erase) with or without the cache maintenance that has to come first.

Everything the dashboard does is a public method (``write()``, ``read()``, ``probe()``,
``flip()``, ``clean()``, ``erase()``, ``reset()``), and every control is an attribute, so a test
(or a notebook's hidden check) can drive it without a browser.

Spec: FEAT_MEC as digested in ``spec/mec.md`` (sections 1, 4, 6, 7).
"""

from __future__ import annotations

import html

import ipywidgets as W

from ._common import FAULT_STYLE as _FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE, pre as _pre

from ..arch.mec.engine import GRANULE
from ..arch.pas import GPI, PAS
from ..errors import CCALabError, GranuleProtectionFault
from ..firmware.monitor import E_RMM_OK, MECID_WIDTH
from ..viz import mec as _vmec
from .gpt import RMM_STATUS_NAMES, parse_address

#: The bytes shown in the hex views: four 16-byte XTS blocks from the address.
WINDOW = 64

#: The Realm granules the dashboard prepares (offsets in granules from ``ns_dram().base + 16 MB``)
#: and the MECID whose text each holds: two for "realm A" (MECID 1), two for "realm B" (MECID 2).
SETUP_GRANULES = ((8, 1), (9, 1), (10, 2), (11, 2))

_TEXTS = {
    1: ("Realm A (MECID 1), page {k}: patient record 0042. Diagnosis: seasonal allergy. "
        "Treatment: rest, water and a short walk every day. Next visit in the spring. "),
    2: ("Realm B (MECID 2), page {k}: quarterly payroll. Alice earns more than Bob, "
        "and Carol leads the team that builds the new bridge over the river. "),
}



def setup_text(mecid: int, k: int) -> bytes:
    """The English text that fills prepared granule ``k`` (one 4KB page) under ``mecid``."""
    line = _TEXTS[mecid].format(k=k).encode()
    return (line * (GRANULE // len(line) + 1))[:GRANULE]


class MemoryEncryptionExplorer:
    """Explore memory encryption contexts (FEAT_MEC) on one :class:`ccalab.Platform`.

    On start (and on :meth:`reset`) four granules at ``ns_dram().base + 16 MB + 8..11 granules``
    (``0x81008000..0x8100c000`` on the default machine) are delegated to the Realm PAS and filled
    with English text: the first two by Realm MECID 1 ("realm A"), the next two by Realm MECID 2
    ("realm B"). :attr:`granules` lists them as ``(pa, mecid)``.

    Parameters
    ----------
    platform : Platform, optional
        The machine to use; a freshly booted default one if omitted. Its granules are prepared
        as above (granules already in the Realm PAS are not delegated again).
    theme : {"auto", "light", "dark"}
        Theme of the pictures (see :func:`ccalab.viz.theme.resolve_theme`).
    draw : bool
        Draw the matplotlib pictures (True) or show only their text versions (False, no graphics).

    Attributes
    ----------
    platform : Platform
    granules : list of (pa, mecid)
    address, mecid, text, flip_offset, flip_bit, skip_flush : ipywidgets controls
    write_button, read_button, probe_button, flip_button, clean_button, erase_button, reset_button
    message : HTML, what the last action did (or why it could not)
    hex_html : HTML, the side-by-side hex view (plaintext of the context | DRAM)
    probe_html : HTML, the physical attacker's panel (DRAM, the owner, the host)
    map_text, entropy_html, events_html : HTML, the context map as text, entropy numbers, recent events
    map_output, entropy_output : ipywidgets.Output holding the pictures
    ui : the root widget
    """

    def __init__(self, platform=None, theme: str = "auto", draw: bool = True):
        if platform is None:
            from ..platform import Platform

            platform = Platform()
        self.theme = theme
        self.draw = draw
        self._quiet = False
        self._busy = False
        self.platform = platform
        self._build()
        self._attach(platform)
        self._prepare()
        self._show_initial()

    # --- the machine ------------------------------------------------------------------------
    def _prepare(self):
        """Delegate and fill the demo granules; forget what the dashboard knew."""
        p = self.platform
        base = p.ns_dram().base + (16 << 20)
        self.granules = [(base + k * GRANULE, m) for k, m in SETUP_GRANULES]
        #: (page, mecid) -> the page as that MECID last read or wrote it
        self._known: dict = {}
        #: page -> DRAM bytes as last seen by the dashboard
        self._dram_seen: dict = {}
        #: page -> MECID that last wrote it (so its ciphertext is under that MECID's key)
        self._writer: dict = {}
        #: MECID -> True if its last crypto-erase flushed the caches first
        self._erased: dict = {}
        self._busy = True
        try:
            for k, (pa, mecid) in enumerate(self.granules):
                if p.gpi(pa) != GPI.REALM and p.monitor.gtsi_delegate(pa) != E_RMM_OK:
                    raise ValueError(f"granule {pa:#x} cannot be delegated to the Realm PAS on this machine "
                                     f"(it is {p.gpi(pa).label}); pass a machine whose DRAM there is Non-secure")
                text = setup_text(mecid, k)
                p.phys_write(pa, text, PAS.REALM, mecid=mecid)
                self._known[(pa, mecid)] = text
                self._writer[pa] = mecid
                self._dram_seen[pa] = p.dram_read(pa, GRANULE)
        finally:
            self._busy = False
        lo = self.granules[0][0] - self.granules[0][0] % (32 * GRANULE)
        self.map_range = (lo, lo + 32 * GRANULE)
        self._drawn_map = None
        self._drawn_page = None

    def _attach(self, platform):
        self.platform = platform
        platform.events.subscribe(self._on_event)

    def _detach(self):
        self.platform.events.unsubscribe(self._on_event)

    # --- construction -----------------------------------------------------------------------
    def _build(self):
        style = {"description_width": "initial"}
        self.title = W.HTML("<b>Memory Encryption Explorer</b>: above the point of encryption a Realm sees "
                            "plaintext; DRAM holds ciphertext under the key of the Realm's MECID.")
        self.address = W.Text(value="", placeholder="e.g. 0x81008000", description="Physical address:",
                              continuous_update=False, style=style,
                              tooltip="Start of the 64 bytes to write, read or probe (hex)")
        self.mecid = W.IntText(value=1, description="MECID:", style=style, layout=W.Layout(width="140px"),
                               tooltip=f"Realm memory encryption context, 0..{(1 << MECID_WIDTH) - 1}")
        self.text = W.Text(value="", placeholder="text to store", description="Text:", style=style,
                           continuous_update=False)
        self.write_button = W.Button(description="Write", button_style="primary",
                                     tooltip="Realm PAS store of the text at the address with this MECID")
        self.read_button = W.Button(description="Read", button_style="info",
                                    tooltip="Realm PAS load at the address with this MECID: what it sees")
        self.message = W.HTML()
        self.hex_html = W.HTML()

        self.probe_button = W.Button(description="Probe DRAM", icon="search",
                                     tooltip="Read DRAM directly, as a probe on the memory bus would: no "
                                             "granule protection check, no key")
        self.flip_offset = W.IntText(value=20, description="byte offset:", style=style,
                                     layout=W.Layout(width="170px"),
                                     tooltip="Byte to corrupt, counted from the address (0..4095)")
        self.flip_bit = W.IntText(value=3, description="bit:", style=style, layout=W.Layout(width="110px"),
                                  tooltip="Bit of that byte to flip (0..7)")
        self.flip_button = W.Button(description="Flip bit", button_style="warning", icon="bolt",
                                    tooltip="Flip one bit of the ciphertext in DRAM: nothing detects it")
        self.probe_html = W.HTML()

        self.clean_button = W.Button(description="Clean+invalidate", icon="eraser",
                                     tooltip="DC CIPAE on the address's granule: write it back to DRAM and "
                                             "drop the cached plaintext, so the next access refetches it")
        self.skip_flush = W.Checkbox(value=False, indent=False, layout=W.Layout(width="auto"),
                                     description="What-if experiment: a deliberate mistake - crypto-erase "
                                                 "skips DC CIPAE, so cached plaintext survives the key change")
        self.erase_button = W.Button(description="Crypto-erase MECID", button_style="danger", icon="key",
                                     tooltip="Retire this MECID's data: DC CIPAE over its cached granules, "
                                             "then RMM_MEC_REFRESH gives it a new key")

        self.map_output = W.Output(layout=W.Layout(min_height="60px"))
        self.map_text = W.HTML()
        self.entropy_output = W.Output(layout=W.Layout(min_height="60px"))
        self.entropy_html = W.HTML()
        self.events_html = W.HTML()
        self.text_tabs = W.Tab(children=[self.map_text, self.entropy_html, self.events_html])
        for k, name in enumerate(("Context map (text)", "Entropy (text)", "Recent events")):
            self.text_tabs.set_title(k, name)
        self.text_tabs.selected_index = 0 if not self.draw else 2
        self.reset_button = W.Button(description="Reset", icon="undo", button_style="danger",
                                     tooltip="Boot a fresh machine, prepare the demo granules again and reset "
                                             "every control")

        self.write_button.on_click(lambda _b: self.write())
        self.read_button.on_click(lambda _b: self.read())
        self.probe_button.on_click(lambda _b: self.probe())
        self.flip_button.on_click(lambda _b: self.flip())
        self.clean_button.on_click(lambda _b: self.clean())
        self.erase_button.on_click(lambda _b: self.erase())
        self.reset_button.on_click(lambda _b: self.reset())
        self.skip_flush.observe(self._on_skip_flush, names="value")

        self.ui = W.VBox([
            self.title,
            W.HTML("<b>A Realm context</b> (Realm PAS + MECID)"),
            W.HBox([self.address, self.mecid]),
            W.HBox([self.text, self.write_button, self.read_button]),
            self.message,
            self.hex_html,
            W.HTML("<b>A physical attacker</b> (probes and writes DRAM; no check applies to them)"),
            W.HBox([self.probe_button, self.flip_offset, self.flip_bit, self.flip_button]),
            self.probe_html,
            W.HTML("<b>Cache maintenance and keys</b>"),
            W.HBox([self.clean_button, self.erase_button]),
            self.skip_flush,
            W.HTML("<b>Which context each granule's cached plaintext belongs to</b>"),
            self.map_output,
            W.HTML("<b>Plaintext and ciphertext of the page</b>"),
            self.entropy_output,
            self.text_tabs,
            self.reset_button,
        ])

    def _show_initial(self):
        self.address.value = hex(self.granules[0][0])
        self.mecid.value = self.granules[0][1]
        self.text.value = ""
        self.flip_offset.value = 20
        self.flip_bit.value = 3
        pa, mecid = self.granules[0]
        page = self._known[(pa, mecid)]
        self._show_hex(pa, mecid, page, self._dram_seen[pa], page, self._dram_seen[pa])
        self.probe_html.value = ""
        self._refresh_map()
        self._refresh_entropy(pa, mecid, page, self._dram_seen[pa])
        self._update_events()
        ranges = ", ".join(f"{pa:#x} (MECID {m})" for pa, m in self.granules)
        self._say(f"Prepared Realm granules: {ranges}. Each holds English text written by its realm.")

    # --- callbacks ---------------------------------------------------------------------------
    def _on_event(self, _event):
        if self._busy:
            return
        self._update_events()

    def _on_skip_flush(self, change):
        self.platform.whatif.skip_mec_flush = bool(change["new"])
        if self._quiet:
            return
        self.platform.events.append("whatif", "learner",
                                    f"what-if skip_mec_flush = {bool(change['new'])}"
                                    + (" (a deliberate mistake)" if change["new"] else ""),
                                    skip_mec_flush=bool(change["new"]))

    # --- input --------------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note") -> None:
        style = {"ok": _OK_STYLE, "fault": _FAULT_STYLE}.get(kind, _NOTE_STYLE)
        self.message.value = f"<div style='{style}'>{html.escape(text)}</div>"

    def address_value(self):
        """The address in the box as an int, or None (with a message shown) if it is not usable:
        not hex, or the 64-byte window from it is not DRAM."""
        p = self.platform
        try:
            pa = parse_address(self.address.value)
        except ValueError as exc:
            self._say(str(exc), "fault")
            return None
        if pa >> p.pamax:
            self._say(f"{pa:#x} is beyond this machine's {p.pamax}-bit physical address space.", "fault")
            return None
        base = pa - pa % _vmec.BLOCK
        if not p.memory.is_backed(base, WINDOW + _vmec.BLOCK):
            dram = p.ns_dram()
            self._say(f"{pa:#x} is not DRAM (no memory answers there). Try the prepared granules, e.g. "
                      f"{self.granules[0][0]:#x}; Non-secure DRAM is {dram.base:#x}..{dram.end:#x}.", "fault")
            return None
        return pa

    def mecid_value(self):
        """The MECID in the box, or None (with a message) if it is out of range."""
        m = self.mecid.value
        if not isinstance(m, int) or not 0 <= m < (1 << MECID_WIDTH):
            self._say(f"A MECID is {MECID_WIDTH} bits wide: 0..{(1 << MECID_WIDTH) - 1}, not {m}.", "fault")
            return None
        return m

    # --- views --------------------------------------------------------------------------------
    def _window(self, pa):
        base = pa - pa % _vmec.BLOCK
        return base, base - base % GRANULE

    def _slice(self, page_bytes, page, base):
        """The 64-byte window at ``base`` out of a page's bytes (None stays None)."""
        if page_bytes is None:
            return None
        off = base - page
        return page_bytes[off:off + WINDOW]

    def _read_window(self, base, mecid):
        """Plaintext of the window (it may cross into the next granule) and its DRAM bytes."""
        p = self.platform
        return p.phys_read(base, WINDOW, PAS.REALM, mecid=mecid), p.dram_read(base, WINDOW)

    def _show_hex(self, pa, mecid, plain, cipher, expected=None, dram_before=None):
        base, _page = self._window(pa)
        who = f"Realm MECID {mecid} reads (plaintext above the PoE)"
        self.hex_html.value = _pre(_vmec.side_by_side_from(plain, cipher, base, who,
                                                           "DRAM holds (ciphertext below the PoE)",
                                                           expected, dram_before))

    def _refresh_map(self, force: bool = False):
        p = self.platform
        lo, hi = self.map_range
        grid = _vmec.context_grid(p, lo, hi)
        key = (grid.tags.tobytes(), grid.dirty.tobytes())
        if not force and key == self._drawn_map:
            return
        self._drawn_map = key
        self.map_text.value = _pre(_vmec.context_map_text(p, lo, hi))
        if self.draw:
            self._display(self.map_output, _vmec.draw_context_map(p, lo, hi, theme=self.theme))

    def _refresh_entropy(self, pa, mecid, plain_page, cipher_page, force: bool = False):
        key = (pa - pa % GRANULE, mecid, plain_page, cipher_page)
        if not force and key == self._drawn_page:
            return
        self._drawn_page = key
        self.entropy_html.value = _pre(f"Page {key[0]:#x}, Realm MECID {mecid}\n"
                                       + _vmec.entropy_text(plain_page, cipher_page))
        if self.draw:
            self._display(self.entropy_output,
                          _vmec.draw_entropy(self.platform, key[0], pas=PAS.REALM, mecid=mecid, theme=self.theme,
                                             plaintext=plain_page, ciphertext=cipher_page))

    @staticmethod
    def _display(out, fig):
        import matplotlib.pyplot as plt
        from IPython.display import display

        out.clear_output(wait=True)
        with out:
            display(fig)
        plt.close(fig)

    def _update_events(self):
        self.events_html.value = _pre(self.platform.events.text(last=12) or "(no events yet)")

    def _log(self, kind, summary, **data):
        self._busy = True
        try:
            self.platform.events.append(kind, "learner", summary, **data)
        finally:
            self._busy = False

    def _page_views(self, page, mecid):
        """The whole page as ``mecid`` reads it and as DRAM holds it (for entropy and marks)."""
        p = self.platform
        return p.phys_read(page, GRANULE, PAS.REALM, mecid=mecid), p.dram_read(page, GRANULE)

    # --- public actions -----------------------------------------------------------------------
    def write(self, text: str | None = None):
        """Store the text box's text (or ``text``, which is put in the box) at the address, as a
        Realm PAS access with the chosen MECID. Returns the bytes written, or None."""
        if text is not None:
            self.text.value = str(text)
        pa, mecid = self.address_value(), self.mecid_value()
        if pa is None or mecid is None:
            return None
        data = self.text.value.encode("utf-8")
        if not data:
            self._say("Type some text to write first.", "fault")
            return None
        if len(data) > GRANULE:
            self._say(f"That is {len(data)} bytes; write at most {GRANULE} (one granule) at a time.", "fault")
            return None
        p = self.platform
        if not p.memory.is_backed(pa, len(data)):
            self._say(f"{len(data)} bytes from {pa:#x} run past the end of DRAM.", "fault")
            return None
        self._busy = True
        try:
            p.phys_write(pa, data, PAS.REALM, mecid=mecid)
        except GranuleProtectionFault as exc:
            self._busy = False
            self._fault(exc, "write")
            return None
        finally:
            self._busy = False
        base, page = self._window(pa)
        pages = sorted({(pa + k) - (pa + k) % GRANULE for k in (0, len(data) - 1)})
        for g in pages:
            self._writer[g] = mecid
        self._erased.pop(mecid, None)  # what it wrote now is under its current key
        plain_page, cipher_page = self._page_views(page, mecid)
        self._known[(page, mecid)] = plain_page
        self._dram_seen[page] = cipher_page
        plain, cipher = self._read_window(base, mecid)
        self._show_hex(pa, mecid, plain, cipher)
        self._log("mec.write", f"Realm MECID {mecid} wrote {len(data)} bytes at {pa:#x}", pa=pa, mecid=mecid)
        self._say(f"Realm MECID {mecid} wrote {len(data)} bytes at {pa:#x}. The engine encrypted the whole "
                  f"granule with MECID {mecid}'s key on its way to DRAM (right-hand side): DRAM never holds the "
                  "plaintext.", "ok")
        self._after(pa, mecid, plain_page, cipher_page)
        return data

    def read(self):
        """Load the 64 bytes at the address as a Realm PAS access with the chosen MECID, show
        them next to DRAM and say what they are. Returns the bytes read, or None."""
        pa, mecid = self.address_value(), self.mecid_value()
        if pa is None or mecid is None:
            return None
        p = self.platform
        base, page = self._window(pa)
        was_cached = _vmec.owner_mecid(p, page) == mecid
        self._busy = True
        try:
            plain_page, cipher_page = self._page_views(page, mecid)
            plain, cipher = self._read_window(base, mecid)
        except GranuleProtectionFault as exc:
            self._busy = False
            self._fault(exc, "read")
            return None
        finally:
            self._busy = False
        known = self._known.get((page, mecid))
        expected = self._slice(known, page, base) if known is not None and base + WINDOW <= page + GRANULE else None
        marks = _vmec.block_diff(plain, expected) if expected is not None else []
        self._show_hex(pa, mecid, plain, cipher, expected, None)
        self._known[(page, mecid)] = plain_page
        self._dram_seen[page] = cipher_page
        self._log("mec.read", f"Realm MECID {mecid} read {WINDOW} bytes at {pa:#x}", pa=pa, mecid=mecid)
        self._explain_read(pa, mecid, plain, marks, expected is not None, was_cached)
        self._after(pa, mecid, plain_page, cipher_page)
        return plain

    def _explain_read(self, pa, mecid, plain, marks, had_expected, was_cached):
        page = pa - pa % GRANULE
        writer = self._writer.get(page)
        erased = self._erased.get(mecid)
        if _vmec.looks_like_noise(plain):
            if writer is not None and writer != mecid:
                why = (f"the granule was written under MECID {writer}; MECID {mecid}'s key decrypts that "
                       f"ciphertext into noise.")
            elif erased is True:
                why = (f"MECID {mecid} was crypto-erased: its cached lines were flushed and its key replaced, "
                       "so the old ciphertext decrypts into noise with the new key.")
            elif writer is None:
                why = ("no realm wrote here through this dashboard: the bytes are whatever DRAM held, "
                       f"decrypted with MECID {mecid}'s key.")
            else:
                why = "DRAM no longer holds what this MECID wrote (it was overwritten or its key changed)."
            self._say(f"Realm MECID {mecid} reads noise at {pa:#x}: {why} No fault is raised: MEC protects "
                      "confidentiality, it is not access control.", "fault")
            return
        if erased is False and was_cached:
            self._say(f"Realm MECID {mecid} still reads its plaintext after the crypto-erase: the what-if skipped "
                      "DC CIPAE, so the plaintext in the cache outlived the key. A real RMM must clean and "
                      "invalidate to the PoE before RMM_MEC_REFRESH.", "fault")
            return
        if marks:
            self._say(f"Realm MECID {mecid} read {pa:#x}: 16-byte block(s) {marks} of the window differ from what "
                      f"this MECID read or wrote before, and nothing faulted. XTS has no integrity: a changed "
                      "ciphertext block decrypts to unpredictable bytes, its neighbours are untouched.", "fault")
            return
        self._say(f"Realm MECID {mecid} reads its plaintext at {pa:#x}"
                  + (" (unchanged since it last looked)." if had_expected else "."), "ok")

    def probe(self):
        """The physical attacker reads the 64 bytes of DRAM at the address (ciphertext), shown next
        to the owner's and the host's view. Returns the DRAM bytes, or None."""
        pa = self.address_value()
        if pa is None:
            return None
        base, page = self._window(pa)
        seen = self._dram_seen.get(page)
        before = self._slice(seen, page, base) if seen is not None and base + WINDOW <= page + GRANULE else None
        owner = _vmec.owner_mecid(self.platform, page)
        if owner is None:
            owner = self._writer.get(page, 0)
        self._busy = True
        try:
            raw = self.platform.dram_read(base, WINDOW)
            self.probe_html.value = _pre(_vmec.probe_text(self.platform, base, WINDOW, mecid=owner,
                                                          dram_before=before))
            cipher_page = self.platform.dram_read(page, GRANULE)
        finally:
            self._busy = False
        self._dram_seen[page] = cipher_page
        changed = _vmec.block_diff(raw, before) if before is not None else []
        self._log("dram.probe", f"DRAM probed at {base:#x} (+{WINDOW})", pa=base)
        self._say(f"The probe reads ciphertext at {base:#x}"
                  + (f"; block(s) {changed} changed since the dashboard last looked" if changed else "")
                  + ". The host cannot read this memory at all (GPF); the attacker can, but sees only noise.",
                  "note")
        self._update_events()
        self._refresh_map()
        return raw

    def flip(self, offset: int | None = None, bit: int | None = None):
        """Flip bit ``bit`` of the DRAM byte at address + ``offset`` (both default to the boxes;
        given values are put in the boxes). Returns the PA flipped, or None."""
        if offset is not None:
            self.flip_offset.value = int(offset)
        if bit is not None:
            self.flip_bit.value = int(bit)
        pa = self.address_value()
        if pa is None:
            return None
        off, b = self.flip_offset.value, self.flip_bit.value
        if not 0 <= off < GRANULE:
            self._say(f"The byte offset counts from the address: 0..{GRANULE - 1}, not {off}.", "fault")
            return None
        if not 0 <= b <= 7:
            self._say(f"A byte has bits 0..7, not {b}.", "fault")
            return None
        p = self.platform
        target = pa + off
        if not p.memory.is_backed(target, 1):
            self._say(f"{target:#x} is not DRAM.", "fault")
            return None
        base, page = self._window(pa)
        self._busy = True
        try:
            before = p.dram_read(base, WINDOW)
            old = p.dram_read(target, 1)[0]
            p.dram_write(target, bytes([old ^ (1 << b)]))
            after = p.dram_read(base, WINDOW)
        finally:
            self._busy = False
        text = [f"DRAM at {base:#x} before and after the flip (> marks the changed 16-byte block):",
                _vmec.hexdump(after, base, highlight_blocks=_vmec.block_diff(before, after))]
        self.probe_html.value = _pre("\n".join(text))
        where = (target - base) // _vmec.BLOCK
        in_window = 0 <= target - base < WINDOW
        self._say(f"Flipped bit {b} of the DRAM byte at {target:#x} ({old:#04x} -> {old ^ (1 << b):#04x})"
                  + (f", in block {where} of the window" if in_window else "")
                  + ". Nothing noticed. The cache may still hold the plaintext; press Clean+invalidate, then Read: "
                  "exactly one 16-byte block comes back garbled, and no fault is raised.", "fault")
        self._update_events()
        return target

    def clean(self):
        """``DC CIPAE`` on the address's granule: write it back under the context it is cached
        with, then invalidate it. Returns the number of granules invalidated, or None."""
        pa = self.address_value()
        if pa is None:
            return None
        page = pa - pa % GRANULE
        p = self.platform
        owner = _vmec.owner_mecid(p, page)
        self._busy = True
        try:
            n = p.mec.clean_invalidate(page)
        finally:
            self._busy = False
        self._log("dc.cipae", f"DC CIPAE on granule {page:#x} ({n} invalidated)", pa=page, granules=n)
        held = f"Realm MECID {owner}'s plaintext" if owner is not None else "no Realm plaintext"
        self._say(f"DC CIPAE {page:#x}: the granule held {held}; it was written back (if dirty) under the context "
                  "it was cached with and dropped from the cache. The next access refetches it from DRAM.", "ok")
        self._refresh_map()
        self._update_events()
        return n

    def erase(self):
        """Crypto-erase the chosen MECID: ``DC CIPAE`` over its cached granules (skipped with the
        what-if), then ``RMM_MEC_REFRESH``. Returns the monitor's status, or None."""
        mecid = self.mecid_value()
        if mecid is None:
            return None
        p = self.platform
        p.whatif.skip_mec_flush = bool(self.skip_flush.value)
        self._busy = True
        try:
            status = p.crypto_erase(mecid)
        except (CCALabError, ValueError, TypeError) as exc:
            self._busy = False
            self._say(str(exc), "fault")
            return None
        finally:
            self._busy = False
        name = RMM_STATUS_NAMES.get(status, str(status))
        if status != E_RMM_OK:
            self._say(f"RMM_MEC_REFRESH({mecid}) -> {name}.", "fault")
        elif p.whatif.skip_mec_flush:
            self._erased[mecid] = False
            self._say(f"MECID {mecid} has a new key ({name}), but the what-if skipped DC CIPAE: its plaintext "
                      "is still in the cache. Read it back: the 'erased' data is still there.", "fault")
        else:
            self._erased[mecid] = True
            self._say(f"MECID {mecid} crypto-erased: DC CIPAE flushed its cached granules, then RMM_MEC_REFRESH "
                      f"gave it a new key ({name}). Its data in DRAM now decrypts to noise.", "ok")
        self._refresh_map()
        self._update_events()
        return status

    def _fault(self, exc, what):
        self._update_events()
        self._say(f"The {what} faulted: {exc.fault.explain()} Only granules in the Realm PAS take Realm "
                  f"accesses; the prepared ones are {', '.join(hex(pa) for pa, _m in self.granules)}.", "fault")

    def _after(self, pa, mecid, plain_page, cipher_page):
        self._refresh_map()
        self._refresh_entropy(pa, mecid, plain_page, cipher_page)
        self._update_events()

    def reset(self) -> None:
        """Replace the machine with a freshly booted one (``platform.fresh()``), prepare the demo
        granules again and reset every control."""
        self._detach()
        self._quiet = True
        try:
            new = self.platform.fresh()
            self._attach(new)
            self.skip_flush.value = False
            new.whatif.skip_mec_flush = False
        finally:
            self._quiet = False
        self._prepare()
        self._show_initial()
        self._say("Reset: a freshly booted machine with the demo granules prepared again; every control is back "
                  "to its default.")

    # --- display ------------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["MemoryEncryptionExplorer", "SETUP_GRANULES", "setup_text", "WINDOW"]
