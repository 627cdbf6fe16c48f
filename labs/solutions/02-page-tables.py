"""Reference solution for labs/02-page-tables.ipynb (instructors and CI only).

``solve(seed)`` returns ``build(ex, s1, s2)``, the function the lab asks for (``ANSWER`` names the
variable the lab's check cell reads). It writes stage 2 first, as a hypervisor does before it runs
a guest: one 2MB block for guest RAM, 4KB pages elsewhere, S2AP from the access, XN[1:0] from the
execute column, Device MemAttr for the UART. Then the guest's stage 1: 4KB pages with AP[2:1],
PXN and UXN derived from the EL1 and EL0 columns, and the Device MAIR slot for the UART.
"""

from ccalab.course.lab02 import (AP_RO_NONE, AP_RO_RO, AP_RW_NONE, AP_RW_RW, ATTR_DEVICE, ATTR_NORMAL, S2_DEVICE,
                                 S2_NORMAL, s1_leaf, s2_leaf)

ANSWER = "build"

XN = {"EL1 and EL0": 0b00, "EL0 only": 0b01, "never": 0b10, "EL1 only": 0b11}
AP = {("rw", False): AP_RW_NONE, ("rw", True): AP_RW_RW, ("r", False): AP_RO_NONE, ("r", True): AP_RO_RO}


def build(ex, s1, s2):
    for r in ex.stage2:
        kw = dict(read="r" in r.access, write="w" in r.access, xn=XN[r.execute],
                  memattr=S2_DEVICE if r.memory == "device" else S2_NORMAL)
        if r.level == 2:
            s2.map(r.ipa, s2_leaf(r.pa, 2, **kw), 2)
        else:
            for i in range(r.pages):
                s2.map(r.ipa + i * 4096, s2_leaf(r.pa + i * 4096, 3, **kw), 3)
    for r in ex.stage1:
        ap = AP[("rw" if "w" in r.el1 else "r", bool(r.el0))]
        attr = ATTR_DEVICE if r.memory == "device" else ATTR_NORMAL
        for i in range(r.pages):
            s1.map(r.va + i * 4096, s1_leaf(r.ipa + i * 4096, 3, ap=ap, pxn="x" not in r.el1,
                                             uxn="x" not in r.el0, attr_index=attr, ng=True), 3)


def solve(seed: int = 0):
    return build


if __name__ == "__main__":
    from ccalab.course.lab02 import check

    for s in range(10):
        print(s, check(solve(s), seed=s).passed)
