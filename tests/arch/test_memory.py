import pytest

from ccalab.arch.memory import BusError, MemoryRegion, PhysicalMemory


def make():
    return PhysicalMemory([MemoryRegion("dram", 0x1000_0000, 1 << 20, "dram"),
                           MemoryRegion("uart", 0x0900_0000, 4096, "mmio")])


def test_memory_reads_back_what_was_written_little_endian():
    m = make()
    m.write(0x1000_0010, b"\x01\x02\x03\x04\x05\x06\x07\x08")
    assert m.read(0x1000_0010, 8) == bytes(range(1, 9))
    assert m.read64(0x1000_0010) == 0x0807060504030201
    m.write64(0x1000_0018, 0xFFFF_FFFF_FFFF_FFFF)
    assert m.read64(0x1000_0018) == 0xFFFF_FFFF_FFFF_FFFF


def test_holes_and_mmio_are_bus_errors():
    m = make()
    assert m.read64(0x0900_0000) is None and m.read64(0x2000_0000 - 8) is None
    with pytest.raises(BusError, match="uart"):
        m.read(0x0900_0000, 4)
    with pytest.raises(BusError):
        m.read(0x1000_0000 + (1 << 20) - 4, 8)  # runs off the end of DRAM


def test_overlapping_regions_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        PhysicalMemory([MemoryRegion("a", 0, 8192, "dram"), MemoryRegion("b", 4096, 8192, "dram")])


def test_memory_is_allocated_lazily():
    m = PhysicalMemory([MemoryRegion("big", 0x8000_0000, 16 << 30, "dram")])
    m.write(0x8000_0000 + (8 << 30), b"x")
    rss = m.resident_bytes()
    assert rss == -1 or rss < (16 << 20)
