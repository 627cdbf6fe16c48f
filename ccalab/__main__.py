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
    cmap = sub.add_parser("course", help="print the course map: every notebook and lab, in order")
    cmap.add_argument("--root", default=None, help="the course folder (default: found automatically)")
    cmap.add_argument("--markdown", action="store_true", help="print the Markdown table instead of text")
    prog = sub.add_parser("progress", help="show your progress; export it to a file or import one")
    grp = prog.add_mutually_exclusive_group()
    grp.add_argument("--export", metavar="FILE", help="write your progress to FILE (one JSON file)")
    grp.add_argument("--import", dest="import_file", metavar="FILE",
                     help="merge the progress in FILE into yours (nothing is lost or duplicated)")
    _add_release(sub)
    args = parser.parse_args(argv)
    if args.cmd == "release":
        return _release(args)
    if args.cmd == "course":
        return _course(args)
    if args.cmd == "progress":
        return _progress(args)
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


def _course(args) -> int:
    from ccalab.course import catalog as cat

    entries = cat.catalog(args.root)
    if not entries:
        print(f"ccalab: no notebooks or labs found under {cat.course_root(args.root)}", file=sys.stderr)
        return 1
    print(cat.course_map_markdown(entries) if args.markdown else cat.course_map_text(entries))
    return 0


def _progress(args) -> int:
    import warnings

    from ccalab.course import progress

    st = progress.store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", progress.ProgressWarning)  # printed below instead
        try:
            if args.export:
                out = st.export(args.export)
                print(f"progress exported to {out}")
            elif args.import_file:
                n = st.import_(args.import_file)
                print(f"imported {n} new attempt{'s' if n != 1 else ''} from {args.import_file}")
            else:
                from ccalab.course.catalog import catalog

                labs = [e.exercise for e in catalog() if e.exercise]
                print(st.text(labs))
        except (OSError, ValueError) as exc:
            for n in st.notices:
                print(f"ccalab: {n}", file=sys.stderr)
            print(f"ccalab: {exc}", file=sys.stderr)
            return 2
    for n in st.notices:
        print(f"ccalab: {n}", file=sys.stderr)
    return 0


def _add_release(sub) -> None:
    rel = sub.add_parser("release", help="write the learner version of a notebook or lab (solutions and outputs removed)")
    rel.add_argument("src", help="a notebook, or a folder whose notebooks are all released (solutions/ skipped)")
    rel.add_argument("out", help="where to write: a .ipynb file or a folder")


def _release(args) -> int:
    from pathlib import Path

    from ccalab.course import release as rel

    src = Path(args.src)
    try:
        written = rel.release_tree(src, args.out) if src.is_dir() else [rel.release(src, args.out)]
    except (OSError, ValueError) as exc:
        print(f"ccalab: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"released {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
