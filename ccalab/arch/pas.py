"""Physical address spaces, granule protection information and security states.

Spec: Arm ARM (DDI0487) K.a, D9 "The Realm Management Extension": ``DecodePASpace`` gives the
{NSE, NS} encoding; ``GPICheck`` compares the PAS of an access with a GPI. RME system
architecture (DEN0129) A2 "Physical address spaces" gives which security state can name which PAS.
"""

from __future__ import annotations

import enum


class PAS(enum.IntEnum):
    """A physical address space, numbered by its {NSE, NS} bits (Arm ARM ``PASpace``).

    The value equals ``GPI & 3`` for the four single-PAS GPIs, which is what the check uses.
    """

    SECURE = 0b00
    NONSECURE = 0b01
    ROOT = 0b10
    REALM = 0b11

    @property
    def nse(self) -> int:
        return (int(self) >> 1) & 1

    @property
    def ns(self) -> int:
        return int(self) & 1

    @property
    def label(self) -> str:
        return _PAS_LABEL[self]


_PAS_LABEL = {PAS.SECURE: "Secure", PAS.NONSECURE: "Non-secure", PAS.ROOT: "Root", PAS.REALM: "Realm"}


class GPI(enum.IntEnum):
    """A Granule Protection Information value (Arm ARM ``GPT_*`` encodings, GPCCR_EL3 base RME).

    Values not listed here are reserved: a GPT walk that meets one raises a GPT *walk* fault,
    never a granule protection fault. (GPC2's NSO 0b1101 and GDI's SA/NSP are not modelled.)
    """

    NO_ACCESS = 0b0000
    SECURE = 0b1000
    NONSECURE = 0b1001
    ROOT = 0b1010
    REALM = 0b1011
    ANY = 0b1111

    @property
    def label(self) -> str:
        return _GPI_LABEL[self]

    @classmethod
    def for_pas(cls, pas: PAS) -> "GPI":
        """The GPI that admits exactly ``pas``."""
        return cls(0b1000 | int(PAS(pas)))


_GPI_LABEL = {
    GPI.NO_ACCESS: "No access",
    GPI.SECURE: "Secure",
    GPI.NONSECURE: "Non-secure",
    GPI.ROOT: "Root",
    GPI.REALM: "Realm",
    GPI.ANY: "All access",
}

#: The 16 nibble values that are architecturally defined GPIs (base RME, GPCCR_EL3.NSO = 0).
VALID_GPI_VALUES = frozenset(int(g) for g in GPI)


def gpi_is_valid(value: int) -> bool:
    """True if ``value`` is a defined GPI encoding (others give a GPT walk fault)."""
    return int(value) in VALID_GPI_VALUES


def gpi_check(gpi: int, pas: int) -> bool:
    """Arm ARM ``GPICheck``: may an access in ``pas`` use a granule whose GPI is ``gpi``?

    ``gpi`` must be a valid encoding. No-access admits nobody, All-access admits everybody,
    and a single-PAS GPI admits exactly the access whose PAS equals ``gpi & 3``.
    """
    gpi = int(gpi)
    if gpi == GPI.ANY:
        return True
    if gpi == GPI.NO_ACCESS:
        return False
    return (gpi & 0b11) == int(pas)


class SecurityState(enum.IntEnum):
    """A PE security state (Arm ARM ``SecurityState``); the value is the state's own PAS."""

    SECURE = 0
    NONSECURE = 1
    ROOT = 2
    REALM = 3

    @property
    def own_pas(self) -> PAS:
        return PAS(int(self))

    @property
    def label(self) -> str:
        return _PAS_LABEL[PAS(int(self))]

    def may_access(self, pas: PAS) -> bool:
        """Whether this state can issue an access in ``pas`` (RME spec, table of A2).

        Root can name every PAS; Realm and Secure can name their own and Non-secure; Non-secure
        can name only Non-secure.
        """
        return PAS(pas) in ALLOWED_PAS[self]


ALLOWED_PAS = {
    SecurityState.ROOT: frozenset(PAS),
    SecurityState.REALM: frozenset({PAS.REALM, PAS.NONSECURE}),
    SecurityState.SECURE: frozenset({PAS.SECURE, PAS.NONSECURE}),
    SecurityState.NONSECURE: frozenset({PAS.NONSECURE}),
}


def as_pas(value) -> PAS:
    """Convert ``value`` (a PAS, an int 0-3, or a name such as ``"realm"``) to a :class:`PAS`."""
    if isinstance(value, PAS):
        return value
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "").replace("_", "").replace(" ", "")
        aliases = {"NS": "NONSECURE", "NONSECURE": "NONSECURE", "S": "SECURE", "SECURE": "SECURE",
                   "ROOT": "ROOT", "REALM": "REALM", "RL": "REALM"}
        if key in aliases:
            return PAS[aliases[key]]
        raise ValueError(f"unknown physical address space {value!r}; use one of "
                         f"{', '.join(p.name for p in PAS)}")
    try:
        return PAS(int(value))
    except (ValueError, TypeError):
        raise ValueError(f"a PAS is 0 (Secure), 1 (Non-secure), 2 (Root) or 3 (Realm); got {value!r}") from None


def as_gpi(value) -> GPI:
    """Convert ``value`` (a GPI, a defined 4-bit encoding, or a name) to a :class:`GPI`."""
    if isinstance(value, GPI):
        return value
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        key = {"NS": "NONSECURE", "NON_SECURE": "NONSECURE", "ALL": "ANY", "ALL_ACCESS": "ANY",
               "NONE": "NO_ACCESS"}.get(key, key)
        try:
            return GPI[key]
        except KeyError:
            raise ValueError(f"unknown GPI {value!r}; use one of {', '.join(g.name for g in GPI)}") from None
    try:
        return GPI(int(value))
    except (ValueError, TypeError):
        raise ValueError(f"{value!r} is not a defined GPI encoding (defined: "
                         f"{', '.join(f'{g.name}=0b{int(g):04b}' for g in GPI)})") from None
