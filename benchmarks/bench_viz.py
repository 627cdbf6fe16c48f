"""How quickly the pictures and the explorer answer (the widget must respond without a pause).

Run: ``.venv/bin/python benchmarks/bench_viz.py``. Best of several repeats, one process.
"""

from __future__ import annotations

import os
import sys

from _common import best

os.environ.setdefault("MPLBACKEND", "Agg")


def main() -> int:
    import matplotlib.pyplot as plt

    import ccalab
    from ccalab.viz import gpt as vg
    from ccalab.widgets import GranuleProtectionExplorer

    ccalab.warmup()
    p = ccalab.Platform()
    p48 = ccalab.Platform(pps=48)
    print("Text and pictures")
    print(f"  granule map text, whole 1 TB PPS        {best(lambda: vg.granule_map_text(p)) * 1e3:7.1f} ms")
    print(f"  granule map text, whole 256 TB PPS      {best(lambda: vg.granule_map_text(p48)) * 1e3:7.1f} ms")
    print(f"  granule map text, 64 single granules    "
          f"{best(lambda: vg.granule_map_text(p, 0xFDC0_0000, 0xFDC0_0000 + 64 * 4096)) * 1e3:7.1f} ms")

    def fig():
        plt.close(vg.draw_granule_map(p, 0x8000_0000, 0x1_0000_0000))

    print(f"  granule map figure, 2 GiB of DRAM       {best(fig) * 1e3:7.1f} ms")
    print(f"  GPT structure text                      {best(lambda: vg.gpt_structure_text(p)) * 1e3:7.1f} ms")
    ex = GranuleProtectionExplorer(ccalab.Platform())
    base = 0x9000_0000
    state = {"i": 0}

    def click():
        ex.address.value = hex(base + 4096 * state["i"])
        state["i"] += 1
        ex.delegate()
        ex.do_access()

    print("Explorer widget")
    print(f"  Delegate + access click, with redraw    {best(click) * 1e3:7.1f} ms")
    print(f"  Reset                                   {best(ex.reset, repeat=3) * 1e3:7.1f} ms")

    from ccalab.widgets import MemoryEncryptionExplorer

    mx = MemoryEncryptionExplorer(ccalab.Platform())
    mx.write("warm up")
    print("Memory encryption explorer")
    for name, action in (("Write", lambda: mx.write("hello")), ("Read", mx.read), ("Probe DRAM", mx.probe),
                         ("Flip a DRAM bit", mx.flip), ("Clean+invalidate", mx.clean)):
        print(f"  {name:<38}  {best(action) * 1e3:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
