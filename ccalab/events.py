"""The platform's event log: every architectural event, in order, with a sequence number.

Visualisations are functions of (platform state, event log). Kinds are dotted names:
``gpt.boot``, ``gpt.transition``, ``gpt.write``, ``gpt.shatter``, ``gpt.fuse``, ``tlbi.rpalos``,
``tlbi.paallos``, ``dc.cipapa``, ``dsb``, ``gpc.fault``, ``gpc.batch``, ``sysreg.write``,
``smc.gtsi``, ``smc.mec``, ``mec.refresh``, ``dc.cipae``, ``dram.write``, ``mmu.fault``, ``tlbi``,
``rmi`` (an RMI call and its result), ``whatif``.
"""

from __future__ import annotations

from collections import deque
from itertools import islice


class Event:
    """One event. ``summary`` may be given as a callable, formatted the first time it is read (a
    realm build logs hundreds of thousands of calls; most are never displayed)."""

    __slots__ = ("seq", "kind", "actor", "_summary", "data")

    def __init__(self, seq: int, kind: str, actor: str, summary, data: dict | None = None):
        self.seq, self.kind, self.actor, self._summary = seq, kind, actor, summary
        self.data = {} if data is None else data

    @property
    def summary(self) -> str:
        s = self._summary
        if not isinstance(s, str):
            s = self._summary = s()
        return s

    def _key(self):
        return (self.seq, self.kind, self.actor, self.summary, self.data)

    def __eq__(self, other):
        return isinstance(other, Event) and self._key() == other._key()

    def __hash__(self):
        return hash((self.seq, self.kind, self.actor))

    def __repr__(self) -> str:
        return f"Event(seq={self.seq}, kind={self.kind!r}, actor={self.actor!r}, summary={self.summary!r})"

    def __str__(self) -> str:
        return f"#{self.seq:<5} {self.kind:<15} {self.actor:<12} {self.summary}"


class EventLog:
    """An append-only log; the oldest events are dropped past ``capacity`` (counted in ``dropped``)."""

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        self._events = deque(maxlen=capacity)
        self._next = 0
        self._listeners = []

    @property
    def dropped(self) -> int:
        """How many of the oldest events have been dropped (sequence numbers start at 0)."""
        return self._next - len(self._events)

    def append(self, kind: str, actor: str, summary, **data) -> Event:
        ev = Event(self._next, kind, actor, summary, data)
        self._next += 1
        self._events.append(ev)
        if self._listeners:
            for fn in list(self._listeners):
                fn(ev)
        return ev

    def subscribe(self, fn) -> None:
        """Call ``fn(event)`` for every new event (widgets use this to refresh)."""
        self._listeners.append(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    @property
    def next_seq(self) -> int:
        return self._next

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self):
        return iter(self._events)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self._events)[i]
        return self._events[i]

    def since(self, seq: int) -> list:
        """Events with sequence number >= ``seq``."""
        return [e for e in self._events if e.seq >= seq]

    def of_kind(self, prefix: str, since: int = 0) -> list:
        """Events whose kind starts with ``prefix`` (``"tlbi"`` matches both TLBI kinds)."""
        return [e for e in self._events if e.seq >= since and (e.kind == prefix or e.kind.startswith(prefix + "."))]

    def kinds(self, since: int = 0) -> list:
        return [e.kind for e in self._events if e.seq >= since]

    def text(self, since: int = 0, last: int | None = None) -> str:
        evs = self.since(since)
        if last is not None:
            evs = evs[-last:]
        return "\n".join(str(e) for e in evs)
