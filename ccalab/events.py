"""The platform's event log: every architectural event, in order, with a sequence number.

Visualisations are functions of (platform state, event log). Kinds are dotted names:
``gpt.boot``, ``gpt.transition``, ``gpt.write``, ``gpt.shatter``, ``gpt.fuse``, ``tlbi.rpalos``,
``tlbi.paallos``, ``dc.cipapa``, ``dsb``, ``gpc.fault``, ``gpc.batch``, ``sysreg.write``,
``smc.gtsi``, ``smc.mec``, ``mec.refresh``, ``dc.cipae``, ``dram.write``, ``mmu.fault``, ``tlbi``,
``rmi`` (an RMI call and its result), ``whatif``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    actor: str
    summary: str
    data: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"#{self.seq:<5} {self.kind:<15} {self.actor:<12} {self.summary}"


class EventLog:
    """An append-only log; the oldest events are dropped past ``capacity`` (counted in ``dropped``)."""

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        self._events: list[Event] = []
        self._next = 0
        self.dropped = 0
        self._listeners = []

    def append(self, kind: str, actor: str, summary: str, **data) -> Event:
        ev = Event(self._next, kind, actor, summary, data)
        self._next += 1
        self._events.append(ev)
        if len(self._events) > self.capacity:
            cut = len(self._events) - self.capacity
            del self._events[:cut]
            self.dropped += cut
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
