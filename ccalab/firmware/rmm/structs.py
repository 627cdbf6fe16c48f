"""The structures the host passes to the RMM by pointer, at the spec's byte offsets.

Each is one 4 KB granule of Non-secure memory. The RMM reads RmiRealmParams and RmiRecParams
when it creates a realm or a REC, reads ``RmiRecRun.enter`` at REC entry and writes
``RmiRecRun.exit`` at REC exit. The field tables below are the layout; :func:`pack` and
:func:`unpack` turn a dict into the 4096-byte image and back, so the host model and learners can
build a params page exactly as a VMM does.

Spec: RMM DEN0137 1.0-rel0, B4.4 "RMI types": RmiRealmParams, RmiRecParams, RmiRecRun
(RmiRecEnter at 0x000, RmiRecExit at 0x800), RsiRealmConfig and RsiHostCall (B5.4).
"""

from __future__ import annotations

import struct

SIZE = 4096

#: (name, offset, format, count): format is a struct code (little-endian), count > 1 for arrays.
REALM_PARAMS = (
    ("flags", 0x000, "Q", 1), ("s2sz", 0x008, "B", 1), ("sve_vl", 0x010, "B", 1),
    ("num_bps", 0x018, "B", 1), ("num_wps", 0x020, "B", 1), ("pmu_num_ctrs", 0x028, "B", 1),
    ("hash_algo", 0x030, "B", 1), ("rpv", 0x400, "64s", 1), ("vmid", 0x800, "H", 1),
    ("rtt_base", 0x808, "Q", 1), ("rtt_level_start", 0x810, "q", 1), ("rtt_num_start", 0x818, "I", 1),
)
#: The fields of RmiRealmParams the RIM covers (REALM_CREATE measures only these).
REALM_PARAMS_MEASURED = ("flags", "s2sz", "sve_vl", "num_bps", "num_wps", "pmu_num_ctrs", "hash_algo")
REALM_FLAG_LPA2, REALM_FLAG_SVE, REALM_FLAG_PMU = 1 << 0, 1 << 1, 1 << 2

REC_PARAMS = (
    ("flags", 0x000, "Q", 1), ("mpidr", 0x100, "Q", 1), ("pc", 0x200, "Q", 1), ("gprs", 0x300, "Q", 8),
    ("num_aux", 0x800, "Q", 1), ("aux", 0x808, "Q", 16),
)
#: The fields of RmiRecParams the RIM covers (a runnable REC's content hash).
REC_PARAMS_MEASURED = ("flags", "pc", "gprs")
REC_FLAG_RUNNABLE = 1 << 0

REC_ENTER = (
    ("flags", 0x000, "Q", 1), ("gprs", 0x200, "Q", 31), ("gicv3_hcr", 0x300, "Q", 1),
    ("gicv3_lrs", 0x308, "Q", 16),
)
ENTER_EMUL_MMIO, ENTER_INJECT_SEA, ENTER_TRAP_WFI, ENTER_TRAP_WFE, ENTER_RIPAS_RESPONSE = (1 << i for i in range(5))

EXIT_OFFSET = 0x800
REC_EXIT = (
    ("exit_reason", 0x000, "B", 1), ("esr", 0x100, "Q", 1), ("far", 0x108, "Q", 1), ("hpfar", 0x110, "Q", 1),
    ("gprs", 0x200, "Q", 31), ("gicv3_hcr", 0x300, "Q", 1), ("gicv3_lrs", 0x308, "Q", 16),
    ("gicv3_misr", 0x388, "Q", 1), ("gicv3_vmcr", 0x390, "Q", 1), ("cntp_ctl", 0x400, "Q", 1),
    ("cntp_cval", 0x408, "Q", 1), ("cntv_ctl", 0x410, "Q", 1), ("cntv_cval", 0x418, "Q", 1),
    ("ripas_base", 0x500, "Q", 1), ("ripas_top", 0x508, "Q", 1), ("ripas_value", 0x510, "B", 1),
    ("imm", 0x600, "H", 1), ("pmu_ovf_status", 0x700, "Q", 1),
)

REALM_CONFIG = (("ipa_width", 0x000, "Q", 1), ("hash_algo", 0x008, "B", 1), ("rpv", 0x200, "64s", 1))
HOST_CALL = (("imm", 0x000, "H", 1), ("gprs", 0x008, "Q", 31))
HOST_CALL_SIZE = 0x100


def _fmt(code: str, count: int) -> str:
    return "<" + (f"{count}{code}" if count > 1 else code)


def unpack(layout, buf, base: int = 0) -> dict:
    """The fields of ``layout`` read from ``buf`` (bytes) at ``base``: ints, bytes, or lists."""
    out = {}
    for name, off, code, count in layout:
        vals = struct.unpack_from(_fmt(code, count), buf, base + off)
        out[name] = list(vals) if count > 1 else vals[0]
    return out


def pack(layout, values: dict, size: int = SIZE, base: int = 0, buf: bytearray | None = None) -> bytearray:
    """A ``size``-byte image (zeros elsewhere) with ``values`` at their offsets; unknown names are
    a ValueError, values too wide for their field a struct.error turned into ValueError."""
    buf = bytearray(size) if buf is None else buf
    known = {f[0]: f for f in layout}
    for name, value in values.items():
        if name not in known:
            raise ValueError(f"no field {name!r}; fields: {', '.join(known)}")
        _, off, code, count = known[name]
        try:
            if count > 1:
                vals = list(value) + [0] * (count - len(value))
                if len(vals) > count:
                    raise ValueError(f"{name} holds {count} values, got {len(value)}")
                struct.pack_into(_fmt(code, count), buf, base + off, *vals)
            else:
                struct.pack_into(_fmt(code, 1), buf, base + off, value)
        except struct.error as exc:
            raise ValueError(f"{name} = {value!r} does not fit its field: {exc}") from None
    return buf


def measured_image(layout, values: dict, keep) -> bytes:
    """The 4096-byte image of ``values`` with only the fields in ``keep`` (the rest zero)."""
    return bytes(pack(layout, {k: values[k] for k in keep}))


__all__ = ["REALM_PARAMS", "REC_PARAMS", "REC_ENTER", "REC_EXIT", "REALM_CONFIG", "HOST_CALL", "EXIT_OFFSET",
           "REALM_PARAMS_MEASURED", "REC_PARAMS_MEASURED", "pack", "unpack", "measured_image", "SIZE",
           "REC_FLAG_RUNNABLE", "ENTER_EMUL_MMIO", "ENTER_INJECT_SEA", "ENTER_TRAP_WFI", "ENTER_TRAP_WFE",
           "ENTER_RIPAS_RESPONSE", "REALM_FLAG_LPA2", "REALM_FLAG_SVE", "REALM_FLAG_PMU", "HOST_CALL_SIZE"]
