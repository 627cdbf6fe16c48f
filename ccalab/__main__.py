"""``python -m ccalab`` / ``ccalab``: small command-line helpers."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ccalab", description="ccalab command-line helpers")
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("warmup", help="compile (or load from cache) every numba kernel")
    gmap = sub.add_parser("gpt", help="print a booted platform's GPT and granule map as text")
    gmap.add_argument("--dram", default="2G", help="DRAM size, e.g. 2G or 512M (default 2G)")
    args = parser.parse_args(argv)
    if args.cmd == "warmup":
        import ccalab

        print(f"kernels ready in {ccalab.warmup():.2f} s")
        return 0
    if args.cmd == "gpt":
        import ccalab

        units = {"G": 1 << 30, "M": 1 << 20}
        text = args.dram.strip().upper()
        try:
            size = int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)
            p = ccalab.Platform(dram_size=size)
        except (ValueError, TypeError) as exc:
            print(f"ccalab: {exc}", file=sys.stderr)
            return 2
        print(p.gpt_text())
        print()
        print(p.granule_map_text())
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
