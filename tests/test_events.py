from ccalab.events import EventLog


def test_log_numbers_events_and_filters_by_kind():
    log = EventLog(capacity=3)
    seen = []
    log.subscribe(seen.append)
    for i in range(5):
        log.append("tlbi.rpalos" if i % 2 else "gpt.write", "EL3", f"e{i}", i=i)
    assert len(log) == 3 and log.dropped == 2 and [e.seq for e in log] == [2, 3, 4]
    assert [e.data["i"] for e in log.of_kind("tlbi")] == [3]
    assert len(seen) == 5 and "e4" in log.text(last=1)
