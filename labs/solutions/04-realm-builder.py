"""Reference solution of lab 04 (build, measure and attack a realm), for instructors and the test suite.

``solve(seed)`` returns the dict the lab's check cell reads (``ANSWER``): three functions.

1. ``predict_rim``: the RIM after each measured command, from the descriptors built by hand:
   H(measured RmiRealmParams), then a 256-byte DATA descriptor per image page, a RIPAS descriptor
   per RTT entry RTT_INIT_RIPAS sets (4 KB entries up to 2 MB, 2 MB entries beyond), and a REC
   descriptor for the runnable REC.
2. ``diagnose``: the first call that fails, and the fix its command and failure label call for.
3. ``attack``: each approach as the host, and why it fails.
"""

import hashlib
import struct

from ccalab.firmware.rmm.structs import REC_FLAG_RUNNABLE

ANSWER = "answers"

MEASURED_PARAMS = ["flags", "s2sz", "sve_vl", "num_bps", "num_wps", "pmu_num_ctrs", "hash_algo"]
MEASURED_REC = ["flags", "pc", "gprs"]
GRANULE, BLOCK = 0x1000, 0x200000


def _descriptor(kind, rim, *fields):
    """A 256-byte measurement descriptor: type, length, the RIM so far (64-byte slot), then ``fields``
    from 0x50 (ints as 8 bytes, bytes as 64-byte slots)."""
    d = bytearray(256)
    struct.pack_into("<BxxxxxxxQ", d, 0, kind, 0x100)
    d[0x10:0x10 + len(rim)] = rim
    off = 0x50
    for f in fields:
        if isinstance(f, bytes):
            d[off:off + len(f)] = f
            off += 64
        else:
            struct.pack_into("<Q", d, off, f)
            off += 8
    return bytes(d)


def predict_rim(rx):
    def H(data):
        return hashlib.new(rx.hash_algo, data).digest()

    rim = H(rx.params_page(keep=MEASURED_PARAMS))
    rims = [rim]
    for ipa, page in rx.pages:
        rim = H(_descriptor(0, rim, ipa, 1, H(page)))
        rims.append(rim)
    a = len(rx.image)
    while a < rx.ram_size:
        size = GRANULE if a < BLOCK else BLOCK
        rim = H(_descriptor(2, rim, a, a + size))
        rims.append(rim)
        a += size
    for k, rec in enumerate(rx.recs):
        if rec["flags"] & REC_FLAG_RUNNABLE:
            rim = H(_descriptor(1, rim, H(rx.rec_params_page(k, keep=MEASURED_REC))))
            rims.append(rim)
    return rims


#: (command, failure label) -> fix; a label alone where the command does not matter.
FIX_FOR = {
    ("RMI_REALM_ACTIVATE", "realm_state"): "drop",
    "realm_state": "before-activate",
    "realm_new": "activate",
    "rd_state": "delegate", "rtt_state": "delegate", "data_state": "delegate", "rec_state": "delegate",
    "params_state": "host-memory",
    "params_valid": "fix-params",
    "rtt_walk": "create-rtt",
    "rtt_entry": "drop",
    "ipa_bound": "protected-ipa",
    "num_aux_count": "aux-count",
    "mpidr_index": "rec-order",
}


def diagnose(run):
    for i, call in enumerate(run.calls):
        if not call.ok:
            label = call.failure.split(":")[0]
            return i, FIX_FOR.get((call.name, label), FIX_FOR.get(label))
    return None


def attack(target, approach):
    host, ipa = target.host, target.secret_ipa
    pa = target.realm.data[ipa]
    if approach == "peek":
        return host.peek(pa, 64), "gpc"
    if approach == "dram":
        return target.platform.dram_read(pa, 64), "mec"
    if approach == "remap":
        page = host.alloc()
        return host.rmi("RTT_MAP_UNPROTECTED", target.rd, ipa, 3, page | (0b110 << 2) | (0b11 << 6)), "rmm"
    if approach == "destroy":
        back = host.rmi("DATA_DESTROY", target.rd, ipa).results[1]
        host.rmi("GRANULE_UNDELEGATE", back)
        return host.peek(back, 64), "scrub"
    return None, None


def solve(seed: int = 0):
    return {"rim": predict_rim, "diagnose": diagnose, "attack": attack}


if __name__ == "__main__":
    from ccalab.course.lab04 import check

    for s in range(10):
        print(s, check(solve(s), seed=s).passed)
