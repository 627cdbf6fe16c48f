__version__ = "0.1.0"

#: The Arm specifications this release models, changed deliberately when a model is moved to a
#: newer release (TF-RMM keeps the same kind of tag).
SPEC_VERSION = {
    "RME": "DEN0129 (Arm CCA RME system architecture), Arm ARM K.a GPC pseudocode",
    "RMM": "DEN0137 1.0-rel0",
}
