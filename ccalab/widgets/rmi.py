"""``RmiConsole``: issue RMI commands by hand, as a host would, and see which failure condition
decided each result.

The learner picks a command (one row of :data:`ccalab.firmware.rmm.RMI_HANDLERS`), types its
arguments in hex or picks one from a list of suggestions drawn from the machine's current state
(valid choices, such as a DELEGATED granule or the RD of a realm, and invalid ones, such as an
unaligned address or a granule in the wrong state, each labelled with the condition it should
trip), and calls it. The result shows the status and index in X0, the output registers by their
spec names, and the command's failure conditions in the order the RMM checks them: those before
the deciding one marked as passed, the deciding one highlighted, the rest not reached.

Two helpers write a valid RmiRealmParams or RmiRecParams page into host memory (delegating the
granules it names), so REALM_CREATE and REC_CREATE are reachable by hand.

Everything the console does is a public method (``call()``, ``suggestions()``, ``choose()``,
``write_realm_params()``, ``write_rec_params()``, ``reset()``), and every control is an
attribute, so a test (or a notebook's hidden check) can drive it without a browser.

Spec: RMM DEN0137 1.0-rel0, the RMI commands (inputs, outputs, "Failure conditions" tables),
``RmiCommandReturnCode``, B4.4 RmiRealmParams / RmiRecParams.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ._common import FAULT_STYLE as _FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE, parse_hex
from ._common import pre as _pre

from ..firmware.rmm import s2tt
from ..firmware.rmm.granule import GranuleState
from ..firmware.rmm.measurement import HashAlgo
from ..firmware.rmm.objects import RealmState
from ..firmware.rmm.rmi.rec import index_mpidr
from ..firmware.rmm.rmm import RMI_HANDLERS
from ..firmware.rmm.spec import FAILURE_CONDITIONS, label_of
from ..firmware.rmm.status import RmiStatus, describe
from ..firmware.rmm.structs import REALM_PARAMS, REC_FLAG_RUNNABLE, REC_PARAMS
from ..host import Host, HostError
from ..viz import realm as _vr

G = 4096
_REG_MAX = (1 << 64) - 1
MAX_ARGS = max(row.n_args for row in RMI_HANDLERS)
_ROWS = {row.name: row for row in RMI_HANDLERS}
DEFAULT_COMMAND = "RMI_GRANULE_DELEGATE"

#: The spec names of each command's output registers X1.. (commands not listed return none).
RESULT_NAMES = {
    "RMI_VERSION": ("lower", "higher"),
    "RMI_DATA_DESTROY": ("data", "top"),
    "RMI_RTT_DESTROY": ("rtt", "top"),
    "RMI_RTT_READ_ENTRY": ("walk_level", "state", "desc", "ripas"),
    "RMI_RTT_UNMAP_UNPROTECTED": ("top",),
    "RMI_FEATURES": ("value",),
    "RMI_RTT_FOLD": ("rtt",),
    "RMI_REC_AUX_COUNT": ("aux_count",),
    "RMI_RTT_INIT_RIPAS": ("top",),
    "RMI_RTT_SET_RIPAS": ("top",),
}

#: Which argument a granule check's prefix names, and the state it must be in, per command.
_PREFIX_ARG = {"gran": "addr", "params": "params_ptr", "run": "run_ptr"}
_EXPECTED = {
    ("RMI_GRANULE_DELEGATE", "gran"): "UNDELEGATED",
    ("RMI_GRANULE_UNDELEGATE", "gran"): "DELEGATED",
    ("RMI_REALM_CREATE", "rd"): "DELEGATED",
    ("RMI_REC_CREATE", "rec"): "DELEGATED",
}
_DEFAULT_EXPECTED = {"rd": "RD", "rtt": "DELEGATED", "data": "DELEGATED", "aux": "DELEGATED", "rec": "REC",
                     "calling": "REC", "target": "REC", "src": "UNDELEGATED (host memory)",
                     "params": "UNDELEGATED (host memory)", "run": "UNDELEGATED (host memory)"}

_CONDITION_TEXT = {
    "gran_gpt": "EL3 agrees to change the granule's GPI: it is Non-secure, not a Secure, Root or Realm carve-out",
    "params_valid": "the parameters are well formed (known flags, rtt_level_start fits s2sz, the right "
                    "rtt_num_start, a known hash_algo, a free VMID)",
    "params_supp": "the parameters ask only for what RMI_FEATURES offers (s2sz range, breakpoints, watchpoints; "
                   "no LPA2, SVE or PMU)",
    "realm_state": "the realm is in the state the command needs (NEW while it is built, ACTIVE to run)",
    "realm_live": "the realm has no REC left and no live entry in its root RTTs",
    "realm_new": "the realm has been activated (it is not NEW)",
    "system_off": "the realm has not powered off (SYSTEM_OFF)",
    "num_aux": "num_aux is at most 16",
    "aux_alias": "no auxiliary granule is the REC, the RD, or repeated",
    "rd_refcount": "the RD's reference count can grow",
    "mpidr_valid": "the MPIDR has only affinity fields set",
    "mpidr_index": "the MPIDR names the realm's next REC index (RECs are created in order)",
    "num_aux_count": "num_aux equals what RMI_REC_AUX_COUNT returns",
    "rec_running": "the REC is not running",
    "rec_runnable": "the REC is runnable (REC 0, or started by PSCI CPU_ON)",
    "rec_psci_pending": "no PSCI request of the REC waits for RMI_PSCI_COMPLETE",
    "rec_gic": "the GIC state the host passes in RmiRecEnter is valid",
    "rec_sea": "the host injects an SEA only where the REC's last exit allows it",
    "rec_mmio": "the host emulates MMIO only after an emulatable data abort",
    "rec_owner": "the REC belongs to the realm",
    "calling_running": "the calling REC is not running",
    "pending": "the calling REC has a PSCI request waiting",
    "owner": "both RECs belong to the same realm",
    "target_index": "the target REC is the one the PSCI request named",
    "status": "the PSCI status is one the request allows",
    "alias": "the two granules are different (the RD is not a root RTT; calling is not target)",
    "level_bound": "level is one this command may use for the realm's RTTs",
    "ipa_align": "ipa is aligned to the size one entry at that level maps",
    "ipa_bound": "ipa is inside the realm's IPA space (below 2^s2sz)",
    "ipa_par": "ipa is in the half this command acts on (unprotected, for unprotected mappings)",
    "rtt_walk": "the RTT walk for ipa reaches the level (the tables above exist); else ERROR_RTT with the level "
                "reached as index",
    "rtt_entry": "the RTT entry found is in the state the command needs",
    "rtt_live": "the RTT has no live entries",
    "rtt_homo": "the RTT's 512 entries are alike (homogeneous), so one entry can replace it",
    "rtt_state": "the RTT entry at ipa is in the state the command needs (UNASSIGNED to create DATA, ASSIGNED "
                 "to destroy it)",
    "desc_valid": "the host's descriptor is valid (aligned output address, allowed attributes)",
    "size_valid": "base is below top",
    "base_align": "base is 4 KB aligned",
    "top_align": "top is 4 KB aligned",
    "region_par": "base..top lies in the protected half",
    "base_walk_align": "base is aligned to the size of the RTT entry the walk reaches",
    "no_progress": "at least one RTT entry could be changed",
    "base_bound": "base is where the REC's pending RIPAS change has got to",
    "top_bound": "top is within the REC's pending RIPAS change",
    "flags_valid": "flags is 0 or RMI_MEASURE_CONTENT (1)",
}


#: Labels whose meaning depends on the command.
_COMMAND_CONDITION_TEXT = {
    ("RMI_REALM_CREATE", "alias"): "rd is not one of the root RTT granules the params name",
    ("RMI_PSCI_COMPLETE", "alias"): "calling and target are different RECs",
    ("RMI_REALM_CREATE", "rtt_align"): "every root RTT granule (rtt_base onwards) is 4 KB aligned",
    ("RMI_REALM_CREATE", "rtt_bound"): "every root RTT granule is DRAM the RMM tracks",
    ("RMI_REALM_CREATE", "rtt_state"): "every root RTT granule is DELEGATED",
    ("RMI_RTT_CREATE", "rtt_state"): "rtt is a granule in state DELEGATED",
    ("RMI_REALM_ACTIVATE", "realm_state"): "the realm is NEW",
    ("RMI_REC_CREATE", "realm_state"): "the realm is NEW (RECs are created before REALM_ACTIVATE)",
    ("RMI_DATA_CREATE", "realm_state"): "the realm is NEW (measured DATA only before REALM_ACTIVATE)",
    ("RMI_RTT_INIT_RIPAS", "realm_state"): "the realm is NEW",
}


def explain_condition(command: str, label: str) -> str:
    """What failure condition ``label`` of ``command`` requires, in a sentence."""
    if (command, label) in _COMMAND_CONDITION_TEXT:
        return _COMMAND_CONDITION_TEXT[(command, label)]
    if label in _CONDITION_TEXT:
        return _CONDITION_TEXT[label]
    prefix, _, part = label.rpartition("_")
    arg = _PREFIX_ARG.get(prefix, prefix)
    if part == "align":
        return f"{arg} is 4 KB aligned"
    if part == "bound":
        return f"{arg} is DRAM the RMM tracks (a delegable granule)"
    if part == "state":
        want = _EXPECTED.get((command, prefix), _DEFAULT_EXPECTED.get(prefix, "the expected state"))
        return f"{arg} is a granule in state {want}"
    if part == "pas":
        return f"{arg} is host memory the RMM may read (its GPI is Non-secure)"
    return label


def conditions_text(command: str, failure) -> str:
    """The failure conditions of ``command`` in the order the RMM checks them, each marked
    ``passed``, ``FAILED`` (the one that decided the status) or ``not reached``.

    ``failure`` is the deciding label (``p.rmm.last_failure``, possibly with a ": reason"), or
    None after a success.
    """
    conds = FAILURE_CONDITIONS.get(command, ())
    label = label_of(failure)
    labels = [lab for lab, _ in conds]
    if not conds:
        return f"{command} has no failure conditions in the spec's table."
    k = labels.index(label) if label in labels else None
    lines = [f"Failure conditions of {command}, in the order the RMM checks them:"]
    for i, (lab, status) in enumerate(conds):
        if label is None or (k is not None and i < k):
            mark = "passed"
        elif i == k:
            mark = "FAILED"
        else:
            mark = "not reached"
        extra = f"-> {status.spec_name}: " if i == k else ""
        lines.append(f"  {i + 1:>2}. {mark:<11} {lab:<17} {extra}{explain_condition(command, lab)}")
    if label is not None and k is None:
        lines.append(f"  decided by {failure!r}, which this table does not list")
    elif label is None:
        lines.append("  every condition passed: the command succeeded")
    if failure and ":" in failure:
        lines.append(f"  reason: {failure.split(':', 1)[1].strip()}")
    return "\n".join(lines)


def _conditions_html(command: str, failure) -> str:
    conds = FAILURE_CONDITIONS.get(command, ())
    label = label_of(failure)
    labels = [lab for lab, _ in conds]
    if not conds:
        return _pre(f"{command} has no failure conditions in the spec's table.")
    k = labels.index(label) if label in labels else None
    rows = []
    for i, (lab, status) in enumerate(conds):
        text = html.escape(explain_condition(command, lab))
        if label is None or (k is not None and i < k):
            style, mark = "background:rgba(27,127,59,0.12)", "&#10003; passed"
        elif i == k:
            style, mark = ("font-weight:bold;background:rgba(179,38,30,0.24);outline:2px solid #B3261E",
                           f"&#10007; FAILED &rarr; {status.spec_name}")
        else:
            style, mark = "opacity:0.55", "not reached"
        rows.append(f"<tr style='{style}'><td style='padding:1px 6px'>{i + 1}</td>"
                    f"<td style='padding:1px 6px;white-space:nowrap'>{mark}</td>"
                    f"<td style='padding:1px 6px;font-family:monospace'>{html.escape(lab)}</td>"
                    f"<td style='padding:1px 6px'>{text}</td></tr>")
    note = ""
    if label is not None and k is None:
        note = f"<div>decided by {html.escape(repr(failure))}, which this table does not list</div>"
    if failure and ":" in failure:
        note += f"<div><b>Reason:</b> {html.escape(failure.split(':', 1)[1].strip())}</div>"
    return (f"<div><b>Failure conditions of {html.escape(command)}</b>, in the order the RMM checks them</div>"
            f"<table style='border-collapse:collapse;font-size:12px'>{''.join(rows)}</table>{note}")


class RmiConsole:
    """Call RMI commands by hand on one :class:`ccalab.Platform`.

    Parameters
    ----------
    p : Platform, optional
        The machine; by default a new ``Platform(dram_size=1 << 30)``.

    Attributes
    ----------
    platform, host : the machine and the host whose pages and calls the console uses
    command : Dropdown of the RMI commands
    args : list of Text, one per argument (hex); rows past the command's arguments are hidden
    picks : list of Dropdown, the suggestions for each argument
    call_button, reset_button, realm_params_button, rec_params_button : buttons
    s2sz, hash_algo : the editable fields of the RmiRealmParams helper
    message, doc_html, result_html, conditions_html, history_html, state_html : HTML panels
    history : list of :class:`~ccalab.host.RmiCall`, every call made from the console
    last_call : the last RmiCall (None before the first)
    ui : the root widget
    """

    def __init__(self, p=None):
        if p is None:
            from ..platform import Platform

            p = Platform(dram_size=1 << 30)
        self._quiet = False
        self._adopt(p)
        self._build()
        self._on_command(None)

    def _adopt(self, p):
        self.platform = p
        self.host = Host(p)
        self.history = []
        self.last_call = None
        self.realm_params_pages = []  # (pa, params dict) written by the helper
        self.rec_params_pages = []
        self._spare = []  # host pages the suggestions offer

    # --- construction ------------------------------------------------------------------------
    def _build(self):
        style = {"description_width": "initial"}
        self.title = W.HTML("<b>RMI Console</b>: be the host. Pick a command, fill in its registers, call it, and "
                            "see which of its failure conditions decided the result.")
        self.command = W.Dropdown(options=[row.name for row in RMI_HANDLERS], value=DEFAULT_COMMAND,
                                  description="Command:", style=style)
        self.doc_html = W.HTML()
        self.args, self.picks, self._rows = [], [], []
        for i in range(MAX_ARGS):
            t = W.Text(value="", placeholder="hex, e.g. 0x84000000", description=f"X{i + 1}:",
                       continuous_update=False, style=style, layout=W.Layout(width="300px"))
            d = W.Dropdown(options=[("suggestions...", "")], value="", layout=W.Layout(width="460px"),
                           tooltip=f"Values for X{i + 1} drawn from the machine's state: valid ones and ones "
                                   "that trip a failure condition")
            d.observe(lambda change, i=i: self._on_pick(i, change), names="value")
            self.args.append(t)
            self.picks.append(d)
            self._rows.append(W.HBox([t, d]))
        self.call_button = W.Button(description="Call", button_style="primary", icon="play",
                                    tooltip="SMC from the host: the monitor forwards the RMI call to the RMM")
        self.reset_button = W.Button(description="Reset", icon="undo", button_style="danger",
                                     tooltip="Boot a fresh machine and clear the history")
        self.message = W.HTML()
        self.result_html = W.HTML()
        self.conditions_html = W.HTML()
        self.history_html = W.HTML()
        self.state_html = W.HTML()

        self.s2sz = W.BoundedIntText(value=40, min=0, max=255, description="s2sz:", style=style,
                                     layout=W.Layout(width="140px"))
        self.hash_algo = W.Dropdown(options=[("SHA-256", int(HashAlgo.SHA_256)), ("SHA-512", int(HashAlgo.SHA_512))],
                                    value=int(HashAlgo.SHA_256), description="hash_algo:", style=style,
                                    layout=W.Layout(width="220px"))
        self.realm_params_button = W.Button(description="Write a valid RmiRealmParams page",
                                            layout=W.Layout(width="auto"),
                                            tooltip="Delegate an RD and root RTT granule(s), write RmiRealmParams "
                                                    "into a host page and fill in REALM_CREATE")
        self.rec_params_button = W.Button(description="Write a valid RmiRecParams page", layout=W.Layout(width="auto"),
                                          tooltip="Delegate a REC and its auxiliary granules, write RmiRecParams "
                                                  "into a host page and fill in REC_CREATE for the newest NEW realm")

        self.command.observe(self._on_command, names="value")
        self.args[0].observe(lambda _c: self._on_first_arg(), names="value")
        self.call_button.on_click(lambda _b: self.call())
        self.reset_button.on_click(lambda _b: self.reset())
        self.realm_params_button.on_click(lambda _b: self.write_realm_params())
        self.rec_params_button.on_click(lambda _b: self.write_rec_params())

        history = W.Accordion(children=[self.history_html])
        history.set_title(0, "History")
        history.selected_index = 0
        state = W.Accordion(children=[self.state_html])
        state.set_title(0, "Machine state (realms, RECs, granules)")
        state.selected_index = None
        self.ui = W.VBox([
            self.title,
            self.command,
            self.doc_html,
            *self._rows,
            W.HBox([self.call_button, self.reset_button]),
            W.HTML("<b>Parameter pages</b> (host memory the RMM reads)"),
            W.HBox([self.s2sz, self.hash_algo, self.realm_params_button]),
            self.rec_params_button,
            self.message,
            self.result_html,
            self.conditions_html,
            history,
            state,
        ])

    # --- callbacks -----------------------------------------------------------------------------
    def _on_command(self, _change):
        cmd = self.command.value
        names = _vr.rmi_arg_names(cmd)
        self._quiet = True
        try:
            for i in range(MAX_ARGS):
                if i < len(names):
                    self.args[i].description = f"X{i + 1} {names[i]}:"
                    self._rows[i].layout.display = None
                else:
                    self.args[i].description = f"X{i + 1}:"
                    self._rows[i].layout.display = "none"
                self.args[i].value = ""
        finally:
            self._quiet = False
        row = _ROWS[cmd]
        doc = " ".join((row.handler.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "")
        outs = "".join(f", X{i + 1} {n}" for i, n in enumerate(RESULT_NAMES.get(cmd, ())))
        self.doc_html.value = (f"<div style='{_NOTE_STYLE}'>{html.escape(doc)}<br><i>Function ID {int(row.fid):#x}; "
                               f"inputs {'X1' if row.n_args == 1 else f'X1..X{row.n_args}'}; "
                               "outputs X0 (status | index &lt;&lt; 8)"
                               f"{html.escape(outs)}.</i></div>")
        self.refresh()

    def _on_first_arg(self):
        if not self._quiet:
            self._refresh_picks()

    def _on_pick(self, i: int, change):
        if self._quiet or not change["new"]:
            return
        self.args[i].value = change["new"]
        self._quiet = True
        try:
            self.picks[i].value = ""
        finally:
            self._quiet = False
        self._refresh_picks()

    # --- helpers ---------------------------------------------------------------------------------
    def _say(self, text: str, kind: str = "note") -> None:
        style = {"ok": _OK_STYLE, "fault": _FAULT_STYLE}.get(kind, _NOTE_STYLE)
        self.message.value = f"<div style='{style}'>{html.escape(text)}</div>"

    def _state(self, pa: int):
        return self.platform.rmm.granule_state(pa)

    def _ns_page(self, k: int = 0) -> int:
        """The ``k``-th spare host page (UNDELEGATED, Non-secure), allocated from the host's pool."""
        self._spare = [pa for pa in self._spare if self._state(pa) == GranuleState.UNDELEGATED
                       and pa not in {q for q, _ in self.realm_params_pages + self.rec_params_pages}]
        while len(self._spare) <= k:
            self._spare.append(self.host.alloc())
        return self._spare[k]

    def _in_state(self, state, n: int = 2) -> list:
        return [int(x) for x in self.platform.rmm.granules.granules_in(state)[:n]]

    def _realm(self):
        """The realm the suggestions are about: the one whose RD is in X1 (if it is an RD argument),
        else the newest realm, else None."""
        realms = self.platform.rmm.realms
        names = _vr.rmi_arg_names(self.command.value)
        if names and names[0] == "rd":
            try:
                rd = parse_hex(self.args[0].value)
            except ValueError:
                rd = None
            if rd in realms:
                return realms[rd]
        return list(realms.values())[-1] if realms else None

    def _arg_values(self):
        """The arguments as ints, or ValueError naming the first bad one."""
        names = _vr.rmi_arg_names(self.command.value)
        out = []
        for i, name in enumerate(names):
            text = self.args[i].value
            try:
                v = parse_hex(text, f"value for X{i + 1} ({name})", "0x84000000")
            except ValueError as exc:
                raise ValueError(f"X{i + 1} ({name}): {exc}") from None
            if v > _REG_MAX:
                raise ValueError(f"X{i + 1} ({name}) = {v:#x} does not fit a 64-bit register (at most 16 hex digits).")
            out.append(v)
        return out

    # --- suggestions -----------------------------------------------------------------------------
    def suggestions(self, i: int) -> list:
        """``(label, value)`` pairs for argument ``i`` of the current command: valid values
        (marked ``ok``) and values that should trip a failure condition (marked ``bad``, with
        the condition's label), drawn from the machine's state."""
        names = _vr.rmi_arg_names(self.command.value)
        if not 0 <= i < len(names):
            return []
        try:
            return self._suggest(self.command.value, names[i])
        except (ValueError, KeyError, HostError) as exc:
            return [(f"(no suggestions: {exc})", "")]

    def choose(self, i: int, k: int) -> str:
        """Put suggestion ``k`` of argument ``i`` into its field; returns the value."""
        opts = self.suggestions(i)
        value = opts[k][1]
        self.args[i].value = value
        self._refresh_picks()
        return value

    def _suggest(self, cmd: str, name: str) -> list:
        p = self.platform
        out = []

        def ok(v, why):
            out.append((f"ok  {v:#x}: {why}", f"{v:#x}"))

        def bad(v, why, label):
            out.append((f"bad {v:#x}: {why} (expect {label})", f"{v:#x}"))

        delegated = self._in_state(GranuleState.DELEGATED, 3)
        realm = self._realm()
        rds = list(p.rmm.realms)
        recs = list(p.rmm.recs.values())
        prefix = {"addr": "gran", "params_ptr": "params", "run_ptr": "run"}.get(name, name)
        if name == "addr":
            if cmd == "RMI_GRANULE_DELEGATE":
                ns = self._ns_page()
                ok(ns, "a host granule (UNDELEGATED)")
                for d in delegated[:1]:
                    bad(d, "DELEGATED already", "gran_state")
                bad(ns + 8, "not 4 KB aligned", "gran_align")
                bad(0x0, "Trusted ROM, not DRAM", "gran_bound")
                try:
                    bad(p.region("Secure (TZC)").base, "the Secure carve-out: EL3 refuses to move it", "gran_gpt")
                except KeyError:
                    pass
            else:
                for d in delegated[:2]:
                    ok(d, "a DELEGATED granule")
                for rd in rds[:1]:
                    bad(rd, "an RD in use", "gran_state")
                bad(self._ns_page(), "a host granule (UNDELEGATED)", "gran_state")
                bad((delegated[0] if delegated else self._ns_page()) + 8, "not 4 KB aligned", "gran_align")
        elif name == "rd":
            if cmd == "RMI_REALM_CREATE":
                roots = {prm["rtt_base"] for _, prm in self.realm_params_pages}
                for d in [d for d in delegated if d not in roots][:2]:
                    ok(d, "a DELEGATED granule for the new RD")
                for rd in rds[:1]:
                    bad(rd, "an RD already", "rd_state")
                for r in sorted(roots)[:1]:
                    if self._state(r) == GranuleState.DELEGATED:
                        bad(r, "the rtt_base of the params page", "alias")
                bad(self._ns_page(), "a host granule (UNDELEGATED)", "rd_state")
            else:
                for rd, rl in list(p.rmm.realms.items())[:3]:
                    ok(rd, f"the RD of the realm with VMID {rl.vmid} ({RealmState(rl.state).name})")
                for d in delegated[:1]:
                    bad(d, "DELEGATED, not an RD", "rd_state")
                bad((rds[0] if rds else self._ns_page()) + 0x10, "not 4 KB aligned", "rd_align")
                bad(0x0, "not DRAM", "rd_bound")
        elif name in ("rtt", "data"):
            for d in delegated[:2]:
                ok(d, "a DELEGATED granule")
            if not delegated:
                out.append(("(no DELEGATED granule: call RMI_GRANULE_DELEGATE first)", ""))
            bad(self._ns_page(), "a host granule (UNDELEGATED)", f"{prefix}_state")
            for r in self._in_state(GranuleState.RTT, 1) if name == "rtt" else self._in_state(GranuleState.DATA, 1):
                bad(r, f"in use as {name.upper()}", f"{prefix}_state")
        elif name == "src":
            ok(self._ns_page(), "a host page (its content is copied in)")
            for d in delegated[:1]:
                bad(d, "DELEGATED: not host memory", "src_state")
            bad(self._ns_page() + 8, "not 4 KB aligned", "src_align")
        elif name == "flags":
            out.append(("ok  0x1: RMI_MEASURE_CONTENT (the page's hash goes into the RIM)", "0x1"))
            out.append(("ok  0x0: RMI_NO_MEASURE_CONTENT", "0x0"))
            out.append(("bad 0x2: an undefined flag (expect flags_valid)", "0x2"))
        elif name == "params_ptr":
            pages = self.realm_params_pages if cmd == "RMI_REALM_CREATE" else self.rec_params_pages
            kind = "RmiRealmParams" if cmd == "RMI_REALM_CREATE" else "RmiRecParams"
            for pa, prm in reversed(pages[-3:]):
                if cmd == "RMI_REALM_CREATE":
                    ok(pa, f"{kind} you wrote: s2sz {prm['s2sz']}, {HashAlgo(prm['hash_algo']).name}, "
                           f"rtt_base {prm['rtt_base']:#x}")
                else:
                    ok(pa, f"{kind} you wrote: MPIDR {prm['mpidr']:#x}, {prm['num_aux']} aux granules")
            if not pages:
                out.append((f"(press 'Write a valid {kind} page' to prepare one)", ""))
            zero = self._ns_page(1)
            bad(zero, "a host page of zeros", "params_supp" if cmd == "RMI_REALM_CREATE" else "a later check")
            for d in delegated[:1]:
                bad(d, "DELEGATED: the RMM cannot read it as host memory", "params_state")
        elif name == "rec":
            if cmd == "RMI_REC_CREATE":
                for d in delegated[:2]:
                    ok(d, "a DELEGATED granule for the new REC")
                for r in recs[:1]:
                    bad(r.rec, "a REC already", "rec_state")
            else:
                for r in recs[:4]:
                    ok(r.rec, f"REC {r.index} of the realm at RD {r.rd:#x}")
                for d in delegated[:1]:
                    bad(d, "DELEGATED, not a REC", "rec_state")
                for rd in rds[:1]:
                    bad(rd, "an RD, not a REC", "rec_state")
        elif name == "run_ptr":
            ok(self._ns_page(2), "a host page for RmiRecRun")
            for d in delegated[:1]:
                bad(d, "DELEGATED: not host memory", "run_state")
        elif name in ("calling", "target"):
            for r in recs[:4]:
                pend = ", PSCI request pending" if r.psci_pending is not None else ""
                ok(r.rec, f"REC {r.index} of the realm at RD {r.rd:#x}{pend}")
            for d in delegated[:1]:
                bad(d, "DELEGATED, not a REC", f"{name}_state")
        elif name == "status":
            out.append(("ok  0x0: PSCI_SUCCESS", "0x0"))
            out.append(("ok  0xfffffffffffffffd: PSCI_DENIED (-3)", "0xfffffffffffffffd"))
        elif name == "index":
            out.append(("ok  0x0: RmiFeatureRegister0", "0x0"))
            out.append(("ok  0x1: a register RMM 1.0 does not define (reads 0)", "0x1"))
        elif name == "req":
            out.append(("ok  0x10000: version 1.0", "0x10000"))
            out.append(("bad 0x20000: version 2.0 (not implemented: the status says so)", "0x20000"))
        elif name == "desc":
            ns = self._ns_page(3)
            ok(ns | 0xD8, "a host page, Normal write-back, read/write (MemAttr 0b110, S2AP 0b11)")
            bad(ns | s2tt.MEMATTR_RESERVED, "a reserved MemAttr", "desc_valid")
        elif name in ("ipa", "level", "base", "top"):
            out += self._rtt_suggestions(cmd, name, realm)
        if not out:
            out.append(("ok  0x0", "0x0"))
        seen, unique = set(), []
        for lab, val in out:  # one entry per value (the first reason given)
            if val and val in seen:
                continue
            seen.add(val)
            unique.append((lab, val))
        return unique

    def _rtt_suggestions(self, cmd: str, name: str, realm) -> list:
        """IPA / level / base / top values from the realm's RTTs."""
        out = []

        def ok(v, why):
            out.append((f"ok  {v:#x}: {why}", f"{v:#x}"))

        def bad(v, why, label):
            out.append((f"bad {v:#x}: {why} (expect {label})", f"{v:#x}"))

        if realm is None:
            return [("(no realm yet: REALM_CREATE first)", ""), ("0x0", "0x0")]
        p = self.platform
        rows = _vr.rtt_rows(p, realm.rd)
        entries = [r for r in rows if r.kind == "entries"]
        l3 = [r for r in entries if r.level == 3]
        unassigned = [r for r in l3 if r.state.startswith("UNASSIGNED/") and r.ipa_lo < realm.par_top]
        assigned = [r for r in l3 if r.state.startswith("ASSIGNED/")]
        ns_free = [r for r in l3 if r.state == "UNASSIGNED_NS" and realm.par_top <= r.ipa_lo < realm.ipa_size]
        ns_mapped = [r for r in l3 if r.state == "ASSIGNED_NS"]
        tables = [r for r in rows if r.kind == "table" and r.depth > 0]
        sl = realm.rtt_level_start
        missing = []
        for ipa in (0, realm.par_top):
            w = p.rmm.walk(realm, ipa, 3)
            if w.level < 3:
                lvl = w.level + 1
                missing.append((ipa & ~(s2tt.LEVEL_SIZE[lvl - 1] - 1), lvl))
        if cmd == "RMI_RTT_CREATE":
            if name == "ipa":
                for ipa, lvl in missing:
                    ok(ipa, f"where the level {lvl} RTT is missing")
                bad(0x1000, "not aligned to a level 1-3 parent entry", "ipa_align")
                bad(realm.ipa_size, "beyond the IPA space", "ipa_bound")
            else:
                for ipa, lvl in missing:
                    ok(lvl, f"the missing level for IPA {ipa:#x}")
                bad(sl, "the start level: the root RTTs exist already", "level_bound")
                bad(4, "no level 4", "level_bound")
            return out
        if cmd in ("RMI_RTT_DESTROY", "RMI_RTT_FOLD"):
            for t in tables[-3:][::-1]:
                if name == "ipa":
                    ok(t.ipa_lo, f"the level {t.level} RTT at {t.rtt:#x}")
                else:
                    ok(t.level, f"the level of the RTT at {t.rtt:#x}")
            bad(4 if name == "level" else realm.ipa_size, "out of range",
                "level_bound" if name == "level" else "ipa_bound")
            return out
        if cmd in ("RMI_DATA_CREATE", "RMI_DATA_CREATE_UNKNOWN", "RMI_DATA_DESTROY"):
            good, other = (assigned, unassigned) if cmd == "RMI_DATA_DESTROY" else (unassigned, assigned)
            for r in good[:2]:
                ok(r.ipa_lo, f"a protected IPA whose entry is {r.state}")
            for r in other[:1]:
                bad(r.ipa_lo, f"its entry is {r.state}", "rtt_state")
            if not l3:
                bad(0x0, "no level 3 RTT yet: RTT_CREATE first", "rtt_walk")
            bad(0x10, "not 4 KB aligned", "ipa_align")
            bad(realm.ipa_size, "beyond the IPA space", "ipa_bound")
            return out
        if cmd in ("RMI_RTT_MAP_UNPROTECTED", "RMI_RTT_UNMAP_UNPROTECTED"):
            if name == "level":
                ok(3, "a 4 KB page")
                bad(4, "no level 4", "level_bound")
                return out
            good = ns_free if cmd == "RMI_RTT_MAP_UNPROTECTED" else ns_mapped
            for r in good[:2]:
                ok(r.ipa_lo, f"an unprotected IPA whose entry is {r.state}")
            if not good:
                bad(realm.par_top, "no level 3 RTT maps it yet: RTT_CREATE first", "rtt_walk")
            bad(0x0, "a protected IPA", "ipa_par")
            return out
        if cmd == "RMI_RTT_READ_ENTRY":
            if name == "level":
                ok(3, "level 3 (the walk reports the level it reached)")
                bad(4, "no level 4", "level_bound")
            else:
                ok(0x0, "the first protected IPA")
                ok(realm.par_top, "the first unprotected IPA")
                bad(0x10, "not aligned", "ipa_align")
            return out
        if cmd == "RMI_RTT_INIT_RIPAS":
            empty = [r for r in unassigned if r.state == "UNASSIGNED/EMPTY"]
            if name == "base":
                for r in empty[:1]:
                    ok(r.ipa_lo, "the first UNASSIGNED/EMPTY page of a level 3 RTT")
                bad(0x8, "not 4 KB aligned", "base_align")
            else:
                for r in empty[:1]:
                    ok(r.ipa_hi, "the end of that run")
                bad(realm.par_top + G, "beyond the protected half", "region_par")
            if not empty:
                out.append(("(no UNASSIGNED/EMPTY level 3 entry: RTT_CREATE a level 3 RTT first)", ""))
            return out
        if cmd == "RMI_RTT_SET_RIPAS":
            pend = [r for r in p.rmm.recs.values() if r.ripas is not None]
            for r in pend[:1]:
                ok(r.ripas.addr if name == "base" else r.ripas.top, f"REC {r.index}'s pending RIPAS change")
            if not pend:
                out.append(("(no REC waits for a RIPAS change: a realm asks with RSI_IPA_STATE_SET)", ""))
            bad(0x8, "not aligned", "base_bound" if name == "base" else "top_bound")
            return out
        return [("ok  0x0", "0x0")]

    def _refresh_picks(self):
        names = _vr.rmi_arg_names(self.command.value)
        self._quiet = True
        try:
            for i in range(len(names)):
                self.picks[i].options = [("suggestions...", "")] + list(self.suggestions(i))
                self.picks[i].value = ""
        finally:
            self._quiet = False

    # --- public actions ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Update the suggestions, the history and the machine-state panel."""
        self._refresh_picks()
        lines = [str(c) for c in self.history[-30:]]
        if len(self.history) > 30:
            lines.insert(0, f"... {len(self.history) - 30} earlier calls")
        self.history_html.value = _pre("\n".join(lines) or "(no calls yet)")
        self.state_html.value = _pre(self.state_text())

    def state_text(self) -> str:
        """The machine as the console sees it: realms, RECs and granule counts."""
        p = self.platform
        lines = []
        for rd, realm in p.rmm.realms.items():
            lines.append(f"realm RD {rd:#x}: {RealmState(realm.state).name}, VMID {realm.vmid}, s2sz {realm.s2sz}, "
                         f"{_vr._plural(len([r for r in realm.recs if r is not None]), 'REC')}, RIM "
                         f"{_vr.short_hex(realm.measurements[0])}")
        for rec in p.rmm.recs.values():
            lines.append(f"REC {rec.index} at {rec.rec:#x} (realm {rec.rd:#x}): {rec.state.name}, "
                         f"{'runnable' if rec.runnable else 'not runnable'}")
        counts = p.rmm.granules.counts()
        owned = ", ".join(f"{s.name} {n}" for s, n in counts.items() if n and s != GranuleState.UNDELEGATED)
        lines.append("granules: " + (owned or "every granule is UNDELEGATED (the host's)"))
        delegated = self._in_state(GranuleState.DELEGATED, 6)
        if delegated:
            lines.append("DELEGATED: " + ", ".join(f"{d:#x}" for d in delegated))
        return "\n".join(lines)

    def call(self):
        """Call the command with the arguments in the fields; returns the :class:`~ccalab.host.RmiCall`,
        or None (with an explanation) when an argument is not a register value."""
        cmd = self.command.value
        try:
            values = self._arg_values()
        except ValueError as exc:
            self._say(str(exc), "fault")
            return None
        try:
            call = self.host.rmi(cmd, *values)
        except (TypeError, ValueError) as exc:
            self._say(f"The call could not be made: {exc}", "fault")
            return None
        self.last_call = call
        self.history.append(call)
        self.message.value = ""
        self.result_html.value = self._result_html(call)
        self.conditions_html.value = _conditions_html(cmd, call.failure)
        self.refresh()
        return call

    def result_text(self) -> str:
        """The last call's result as text: the call, X0 with its status name and index, the
        output registers by name, and the failure conditions (see :func:`conditions_text`)."""
        c = self.last_call
        if c is None:
            return "(no call yet)"
        lines = [str(c), f"X0 = {c.results[0]:#x}: {describe(c.results[0])}"
                 + (f", index {c.index}" if c.index else "")]
        names = RESULT_NAMES.get(c.name, ())
        for i, v in enumerate(c.results[1:], 1):
            label = names[i - 1] if i - 1 < len(names) else ""
            lines.append(f"X{i} {label} = {v:#x}")
        if c.failure:
            lines.append(f"failure condition: {c.failure}")
        lines.append(conditions_text(c.name, c.failure))
        return "\n".join(lines)

    def _result_html(self, c) -> str:
        ok = c.ok
        status = describe(c.results[0])
        rows = [("X0", f"{c.results[0]:#x} = {status}")]
        names = RESULT_NAMES.get(c.name, ())
        for i, v in enumerate(c.results[1:], 1):
            rows.append((f"X{i} {names[i - 1] if i - 1 < len(names) else ''}", f"{v:#x}"))
        if c.failure:
            rows.append(("failure condition", c.failure))
        if c.status == RmiStatus.ERROR_RTT:
            rows.append(("index", f"the RTT walk stopped at level {c.index}"))
        body = "".join(f"<tr><td style='padding-right:8px'><b>{html.escape(k)}</b></td>"
                       f"<td style='font-family:monospace'>{html.escape(v)}</td></tr>" for k, v in rows)
        style = _OK_STYLE if ok else _FAULT_STYLE
        return (f"<div style='{style}'><b>{html.escape(str(c).split('  [')[0])}</b>"
                f"<table style='margin-top:4px'>{body}</table></div>")

    def write_realm_params(self):
        """Delegate an RD granule and the root RTT granule(s), write a valid RmiRealmParams page
        (with the s2sz and hash_algo fields as set) into host memory, and fill in REALM_CREATE.
        Returns the page's PA, or None with an explanation."""
        p, h = self.platform, self.host
        s2sz = int(self.s2sz.value)
        sl = 0 if 40 <= s2sz <= 47 else 1
        num = s2tt.rtt_num_start(s2sz, sl) if 32 <= s2sz <= 48 else 1
        num = min(num, 16)
        used = {r.vmid for r in p.rmm.realms.values()} | {prm["vmid"] for _, prm in self.realm_params_pages}
        vmid = 1
        while vmid in used:
            vmid += 1
        try:
            roots = h.delegate(num)
            rd = h.delegate(1)[0]
            prm = {"flags": 0, "s2sz": s2sz, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0,
                   "hash_algo": int(self.hash_algo.value), "vmid": vmid, "rtt_base": roots[0],
                   "rtt_level_start": sl, "rtt_num_start": num}
            pa = h.write_struct(REALM_PARAMS, prm)
        except (HostError, ValueError) as exc:
            self._say(f"Could not write the page: {exc}", "fault")
            return None
        self.history += h.calls[-(num + 1):]
        self.realm_params_pages.append((pa, prm))
        self.command.value = "RMI_REALM_CREATE"
        self._on_command(None)  # the same command again still clears the fields
        self.args[0].value = f"{rd:#x}"
        self.args[1].value = f"{pa:#x}"
        self.refresh()
        fits = "" if 32 <= s2sz <= p.pamax else f" (s2sz {s2sz} is outside 32..{p.pamax}: expect params_supp)"
        self._say(f"Delegated RD {rd:#x} and {num} root RTT granule(s) from {roots[0]:#x}; wrote RmiRealmParams at "
                  f"{pa:#x} (s2sz {s2sz}, start level {sl}, {HashAlgo(prm['hash_algo']).name}, VMID {vmid}). "
                  f"Press Call for REALM_CREATE{fits}.", "ok")
        return pa

    def write_rec_params(self):
        """For the newest NEW realm: delegate a REC granule and its auxiliary granules, write a
        valid RmiRecParams page (runnable, the next MPIDR, PC 0) and fill in REC_CREATE. Returns
        the page's PA, or None with an explanation."""
        p, h = self.platform, self.host
        new = [r for r in p.rmm.realms.values() if r.state == RealmState.NEW]
        if not new:
            self._say("REC_CREATE needs a realm in state NEW: write an RmiRealmParams page and call REALM_CREATE "
                      "first.", "fault")
            return None
        realm = new[-1]
        try:
            aux_n = h.must("REC_AUX_COUNT", realm.rd).results[1]
            aux = h.delegate(aux_n)
            rec = h.delegate(1)[0]
            prm = {"flags": REC_FLAG_RUNNABLE, "mpidr": index_mpidr(realm.rec_index), "pc": 0, "gprs": [0] * 8,
                   "num_aux": aux_n, "aux": aux}
            pa = h.write_struct(REC_PARAMS, prm)
        except (HostError, ValueError) as exc:
            self._say(f"Could not write the page: {exc}", "fault")
            return None
        self.history += h.calls[-(aux_n + 2):]
        self.rec_params_pages.append((pa, prm))
        self.command.value = "RMI_REC_CREATE"
        self._on_command(None)
        self.args[0].value = f"{realm.rd:#x}"
        self.args[1].value = f"{rec:#x}"
        self.args[2].value = f"{pa:#x}"
        self.refresh()
        self._say(f"Delegated REC {rec:#x} and {aux_n} auxiliary granules; wrote RmiRecParams at {pa:#x} (runnable, "
                  f"MPIDR {prm['mpidr']:#x}, PC 0). Press Call for REC_CREATE.", "ok")
        return pa

    def reset(self) -> None:
        """Boot a fresh machine, clear the history and put every control back to its default."""
        self._adopt(self.platform.fresh())
        self._quiet = True
        try:
            self.s2sz.value = 40
            self.hash_algo.value = int(HashAlgo.SHA_256)
            self.command.value = DEFAULT_COMMAND
        finally:
            self._quiet = False
        self._on_command(None)
        self.result_html.value = ""
        self.conditions_html.value = ""
        self._say("Reset: a freshly booted machine; no realm, no delegated granule, no history.")

    # --- display -------------------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["RmiConsole", "conditions_text", "explain_condition", "RESULT_NAMES"]
