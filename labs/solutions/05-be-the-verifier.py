"""Reference solution of lab 05 (be the verifier), for instructors and the test suite.

``solve(seed)`` returns the dict the lab's check cell reads (``ANSWER``): three functions.

1. ``binding_holds``: hash the RAK claim exactly as carried, with the algorithm claim 44240
   names, and compare with the platform challenge.
2. ``provision``: the manufacturer's platform values, plus the RIM of the owner's image (built on
   a machine of our own, before anything is deployed) and its RPV zero-padded to 64 bytes.
3. ``diagnose``: the first step that fails; the cause is the one that breaks that step, and for
   the binding, a comparison with the known-good token of the same realm.
"""

import hmac

from ccalab import Platform
from ccalab.attest import decode, verify
from ccalab.attest.claims import HASH_ALGORITHMS
from ccalab.host import Host

ANSWER = "answers"


def binding_holds(token):
    t = decode(token)
    algorithm = t.realm["cca-realm-public-key-hash-algo-id"]  # claim 44240
    digest = HASH_ALGORITHMS[algorithm](t.realm["cca-realm-public-key"]).digest()
    return hmac.compare_digest(digest, t.platform["cca-platform-challenge"])


def provision(owner):
    rv = owner.manufacturer_values()
    rim = Host(Platform(dram_size=256 << 20)).build_realm(owner.config).rim
    rv.add_realm(rim, rpv=bytes(owner.config.rpv).ljust(64, b"\0"))
    return rv


STEP_CAUSE = {"syntax": "malformed", "trust_anchor": "unknown-platform", "platform_signature": "edited-platform",
              "realm_signature": "forged-realm", "freshness": "replayed"}


def diagnose(case):
    step = verify(case.token, case.trust_anchor, nonce=case.nonce).failed_step
    if step != "binding":
        return step, STEP_CAUSE[step]
    t, good = decode(case.token), decode(case.known_good)
    if t.platform["cca-platform-instance-id"] != good.platform["cca-platform-instance-id"]:
        return step, "other-platform"
    return step, "substituted-rak"


def solve(seed: int = 0):
    return {"binding": binding_holds, "provision": provision, "diagnose": diagnose}


if __name__ == "__main__":
    from ccalab.course.lab05 import check

    for s in range(10):
        print(s, check(solve(s), seed=s).passed)
