"""How long a CCA token takes to verify and appraise (target: verify() under 10 ms per token).

Run: ``.venv/bin/python benchmarks/bench_attest.py``. Each figure is the best of several repeats
of a loop of calls, divided by the loop length.
"""

from __future__ import annotations

import json
import pathlib
import sys

from _common import ROOT, best

DATA = pathlib.Path(ROOT) / "tests" / "data" / "attestation"
TARGET_MS = 10.0
LOOP = 50


def per_call_ms(fn, loop: int = LOOP) -> float:
    def run():
        for _ in range(loop):
            fn()
    return best(run) / loop * 1e3


def fresh_token(form: str, cpak):
    """A token made here: a P-384 RAK, the given CPAK, a COSE_Key RAK claim and a SHA-256 binding."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import ec

    from ccalab.attest import claims, cose, encode_collection

    rak = ec.generate_private_key(ec.SECP384R1())
    rak_claim = cose.cose_key_from_key(rak)
    platform = {"profile": claims.PLATFORM_PROFILE, "challenge": hashlib.sha256(rak_claim).digest(),
                "implementation-id": bytes(32), "instance-id": b"\x01" + bytes(32), "config": b"\x00",
                "lifecycle": 0x3000, "hash-algo-id": "sha-256",
                "sw-components": [{"measurement-type": f"C{i}", "measurement-value": bytes([i]) * 32,
                                   "signer-id": b"\x01" * 32} for i in range(4)]}
    realm = {"challenge": b"\x07" * 64, "profile": claims.REALM_PROFILE, "personalization-value": bytes(64),
             "hash-algo-id": "sha-256", "public-key": rak_claim, "initial-measurement": bytes(32),
             "extensible-measurements": [bytes(32)] * 4, "public-key-hash-algo-id": "sha-256"}
    p = cose.sign1(claims.encode_claims(platform, "platform"), cpak)
    r = cose.sign1(claims.encode_claims(realm, "realm"), rak)
    return encode_collection(p, r, form)


def main() -> int:
    from cryptography.hazmat.primitives.asymmetric import ec

    from ccalab.attest import ReferenceValues, appraise, decode, verify

    cases = []
    pub = (DATA / "cca_platform.pub").read_bytes()
    tfa = json.loads((DATA / "ta-tfa.json").read_text())
    ref = (DATA / "cca_token.cbor").read_bytes()
    cases.append(("cca_token.cbor, PEM CPAK (ES384 + ES384)", ref, pub))
    cases.append(("cca_token.cbor, store lookup (ta-tfa.json)", ref, tfa))
    cases.append(("testGoodCCAToken.cbor, JWK (ES256 + ES384)", (DATA / "testGoodCCAToken.cbor").read_bytes(),
                  json.loads((DATA / "ec.p256.jwk").read_text())))
    cases.append(("bug-33-repro.cbor (16 sw-components)", (DATA / "bug-33-repro.cbor").read_bytes(), pub))
    for curve, name in ((ec.SECP384R1, "P-384"), (ec.SECP256R1, "P-256")):
        cpak = ec.generate_private_key(curve())
        cases.append((f"fresh CMW token, {name} CPAK", fresh_token("cmw", cpak), cpak.public_key()))

    worst = 0.0
    print(f"verify() per token (target < {TARGET_MS:.0f} ms)")
    for label, token, anchor in cases:
        verify(token, anchor)
        ms = per_call_ms(lambda: verify(token, anchor))
        worst = max(worst, ms)
        print(f"  {label:<46} {ms:7.3f} ms")

    print("Other steps, cca_token.cbor")
    print(f"  {'decode() only (no signatures)':<46} {per_call_ms(lambda: decode(ref)):7.3f} ms")
    rv = ReferenceValues.from_json(DATA / "rv.json")
    print(f"  {'appraise() with rv.json (verify included)':<46} "
          f"{per_call_ms(lambda: appraise(ref, rv, trust_anchor=pub)):7.3f} ms")
    cpak = ec.generate_private_key(ec.SECP384R1())
    print(f"  {'produce a fresh token (keygen + 2 signatures)':<46} "
          f"{per_call_ms(lambda: fresh_token('cmw', cpak), loop=10):7.3f} ms")
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    print(f"Slowest verify: {worst:.3f} ms, {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
