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


#: Lazy summaries: an event's summary may be a tuple ``(key, *args)`` with ``key`` registered here;
#: it is formatted with ``FORMATTERS[key](*args)`` only when read (a realm build logs hundreds of
#: thousands of calls and most are never shown).
FORMATTERS = {}


def register_formatter(key: str, fn) -> None:
    """Register ``fn(*args)`` as the formatter of lazy summaries ``(key, *args)``."""
    FORMATTERS[key] = fn


def _format(summary) -> str:
    if isinstance(summary, str):
        return summary
    if isinstance(summary, tuple) and summary and summary[0] in FORMATTERS:
        return FORMATTERS[summary[0]](*summary[1:])
    if callable(summary):
        return summary()
    return str(summary)


class Event:
    """One event, as read from the log (the log itself keeps plain tuples, which the garbage
    collector need not scan once it has seen that they hold only numbers and strings)."""

    __slots__ = ("seq", "kind", "actor", "_summary", "data")

    def __init__(self, seq: int, kind: str, actor: str, summary, data=None):
        self.seq, self.kind, self.actor, self._summary = seq, kind, actor, summary
        self.data = {} if data is None else data if isinstance(data, dict) else dict(data)

    @property
    def summary(self) -> str:
        s = self._summary
        if not isinstance(s, str):
            s = self._summary = _format(s)
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


def _event(t) -> Event:
    return Event(*t)


class EventLog:
    """An append-only log; the oldest events are dropped past ``capacity`` (counted in ``dropped``)."""

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        #: (seq, kind, actor, summary, data items) tuples: tuples of numbers, strings and bytes only,
        #: which the garbage collector stops tracking the first time it sees them
        self._events = deque(maxlen=capacity)
        self._next = 0
        self._listeners = []

    @property
    def dropped(self) -> int:
        """How many of the oldest events have been dropped (sequence numbers start at 0)."""
        return self._next - len(self._events)

    def append(self, kind: str, actor: str, summary, **data):
        """Log an event; returns it (an :class:`Event`) when someone listens, else None."""
        return self.append_data(kind, actor, summary, data)

    def append_data(self, kind: str, actor: str, summary, data: dict, atomic: bool = False):
        """:meth:`append` with the data as a dict (no keyword repacking: for firmware's own loggers).
        ``atomic``: every value is a number, string, bool or None, so the dict itself is kept (the
        garbage collector never tracks such a dict); otherwise its items are kept as tuples."""
        t = (self._next, kind, actor, summary, data if atomic else tuple([*data.items()]))
        self._next += 1
        self._events.append(t)
        if self._listeners:
            ev = Event(*t)
            for fn in list(self._listeners):
                fn(ev)
            return ev
        return None

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
        return map(_event, self._events)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [Event(*t) for t in list(self._events)[i]]
        return Event(*self._events[i])

    def _from(self, seq: int):
        """Raw tuples with sequence number >= ``seq`` (found by position: sequence numbers are dense)."""
        n = len(self._events)
        first = self._next - n
        start = max(0, seq - first)
        if start >= n:
            return []
        return islice(self._events, start, None) if start else iter(self._events)

    def since(self, seq: int) -> list:
        """Events with sequence number >= ``seq``."""
        return [Event(*t) for t in self._from(seq)]

    def of_kind(self, prefix: str, since: int = 0) -> list:
        """Events whose kind starts with ``prefix`` (``"tlbi"`` matches both TLBI kinds)."""
        dotted = prefix + "."
        return [Event(*t) for t in self._from(since) if t[1] == prefix or t[1].startswith(dotted)]

    def kinds(self, since: int = 0) -> list:
        return [t[1] for t in self._from(since)]

    def text(self, since: int = 0, last: int | None = None) -> str:
        evs = self.since(since)
        if last is not None:
            evs = evs[-last:]
        return "\n".join(str(e) for e in evs)
