"""Pictures (matplotlib) and their plain-text twins.

Importing :mod:`ccalab.viz` does not load matplotlib: the ``draw_*`` functions import it when
called, and the ``*_text`` renderers need only NumPy (the attestation views load ``cryptography``
and ``cbor2`` when called, to decode and verify tokens). Nothing here imports ipywidgets.
"""

from .attest import (appraisal_text, claims_tree_text, draw_token, draw_verification, measurement_provenance_text,
                     verification_text)
from .gpt import draw_gpt_structure, draw_granule_map, gpt_structure_text, granule_map_text, walk_text
from .mec import (block_diff, context_map_text, draw_context_map, draw_entropy, entropy, hexdump, probe_text,
                  side_by_side_text)
from .mmu import animate_walk, cost_text, draw_walk_grid, tlb_text, va_fields, walk_frames, walk_view
from .realm import (draw_granule_states, draw_rim_log, draw_rtt_tree, draw_sequence, granule_states_text,
                    realm_summary_text, recs_text, rim_log_text, rmi_log_text, rtt_tree_text, sequence_text)
from .theme import GPI_COLOURS, resolve_theme, style_axes

# ``walk_text`` here is the GPT walk of one physical access; the translation walk of a VA is
# ``ccalab.viz.mmu.walk_text``.
__all__ = ["granule_map_text", "draw_granule_map", "gpt_structure_text", "draw_gpt_structure", "walk_text",
           "walk_view", "va_fields", "draw_walk_grid", "walk_frames", "animate_walk", "tlb_text", "cost_text",
           "hexdump", "side_by_side_text", "entropy", "draw_entropy", "context_map_text", "draw_context_map",
           "probe_text", "block_diff", "granule_states_text", "draw_granule_states", "rtt_tree_text",
           "draw_rtt_tree", "recs_text", "rim_log_text", "draw_rim_log", "rmi_log_text", "sequence_text",
           "draw_sequence", "realm_summary_text", "claims_tree_text", "draw_token", "verification_text",
           "draw_verification", "appraisal_text", "measurement_provenance_text", "GPI_COLOURS", "style_axes",
           "resolve_theme"]
