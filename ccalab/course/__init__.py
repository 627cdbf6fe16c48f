"""The teaching layer: exercise checkers with hidden references, hints and learning-path metadata.

- :mod:`ccalab.course.lab01`: lab 01, the PAS layout of a machine (``make_exercise``, ``check``,
  ``hint``).
- :mod:`ccalab.course.lab02`: lab 02, the stage-1 and stage-2 tables of a guest (same functions).
- :mod:`ccalab.course.lab03`: lab 03, MECID forensics: which encryption context each realm granule
  belongs to (same functions).
- :mod:`ccalab.course.lab04`: lab 04, a realm's life: predict a RIM, debug a host's build from its
  status codes, try to read a realm's secret as the host (same functions).
- :mod:`ccalab.course.lab05`: lab 05, be the verifier: check a token's binding, provision reference
  values, diagnose refused tokens (same functions).
- :mod:`ccalab.course.catalog`, :mod:`ccalab.course.progress`, :mod:`ccalab.course.release`: the course
  map, the learner's progress store, and the learner versions of the labs.
- :mod:`ccalab.course.frontmatter`: the front matter every notebook carries (``read``).
- :mod:`ccalab.course.nbtools`: ``strip_outputs`` for committing notebooks clean.

Nothing here imports matplotlib or ipywidgets.
"""

from . import frontmatter, lab01, lab02, lab03, lab04, lab05

__all__ = ["lab01", "lab02", "lab03", "lab04", "lab05", "frontmatter", "nbtools", "strip_outputs"]


def __getattr__(name):
    # nbtools is loaded on demand, so that ``python -m ccalab.course.nbtools`` runs it only once
    if name in ("nbtools", "strip_outputs"):
        import importlib

        nbtools = importlib.import_module(f"{__name__}.nbtools")
        return nbtools if name == "nbtools" else nbtools.strip_outputs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
