"""Realm measurements: the Realm Initial Measurement (RIM) and the four Realm Extensible
Measurements (REMs), and the descriptors the RIM is extended with.

The RIM starts as the hash of the measured part of RmiRealmParams and is then extended, in
command order, by a 256-byte descriptor per measured command: DATA_CREATE (type 0), a runnable
REC_CREATE (type 1) and each RTT entry RTT_INIT_RIPAS processes (type 2). Each extension is
``RIM = H(descriptor)``, with the old RIM inside the descriptor, so the RIM depends on every
measured command and their order. A learner can compute a realm's RIM from its image with
:func:`predict_rim`, without a machine.

Spec: RMM DEN0137 1.0-rel0, A7.1 "Realm measurements", B4.3.* ``RmmMeasurementDescriptorData``
(type 0), ``RmmMeasurementDescriptorRec`` (type 1), ``RmmMeasurementDescriptorRipas`` (type 2);
TF-RMM ``lib/measurement/src/measurement_descs.h``.
"""

from __future__ import annotations

import enum
import hashlib
import struct

from .structs import REALM_PARAMS, REALM_PARAMS_MEASURED, REC_PARAMS, REC_PARAMS_MEASURED, measured_image

DESC_SIZE = 0x100
MEASUREMENT_SLOTS = 5  # RIM + 4 REMs


class HashAlgo(enum.IntEnum):
    """RmiHashAlgorithm: the realm's measurement algorithm (RmiRealmParams.hash_algo)."""

    SHA_256 = 0
    SHA_512 = 1

    @property
    def digest_size(self) -> int:
        return 32 if self == HashAlgo.SHA_256 else 64

    def new(self, data: bytes = b""):
        return hashlib.sha256(data) if self.value == 0 else hashlib.sha512(data)


class DescType(enum.IntEnum):
    DATA = 0
    REC = 1
    RIPAS = 2


def digest(algo, data: bytes) -> bytes:
    """H(data) with the realm's algorithm."""
    return HashAlgo(algo).new(data).digest()


def _slot(value: bytes) -> bytes:
    """A 64-byte measurement slot: the hash, zero-padded."""
    return bytes(value).ljust(64, b"\0")


def rim_init(algo, params: dict) -> bytes:
    """The RIM after REALM_CREATE: H(RmiRealmParams with only the measured fields kept)."""
    return digest(algo, measured_image(REALM_PARAMS, params, REALM_PARAMS_MEASURED))


_DATA_DESC = struct.Struct("<BxxxxxxxQ64sQQ64s")


def data_descriptor(rim: bytes, ipa: int, flags: int, content_hash: bytes) -> bytes:
    """RmmMeasurementDescriptorData: type 0, len, old RIM, ipa, flags, content hash (or zeros)."""
    return _DATA_DESC.pack(0, DESC_SIZE, rim, ipa, flags, content_hash).ljust(DESC_SIZE, b"\0")


def rec_descriptor(rim: bytes, content_hash: bytes) -> bytes:
    """RmmMeasurementDescriptorRec: type 1, len, old RIM, H(measured RmiRecParams)."""
    return (struct.pack("<BxxxxxxxQ", DescType.REC, DESC_SIZE) + _slot(rim) + _slot(content_hash)
            ).ljust(DESC_SIZE, b"\0")


def ripas_descriptor(rim: bytes, base: int, top: int) -> bytes:
    """RmmMeasurementDescriptorRipas: type 2, len, old RIM, base, top."""
    return (struct.pack("<BxxxxxxxQ", DescType.RIPAS, DESC_SIZE) + _slot(rim) + struct.pack("<QQ", base, top)
            ).ljust(DESC_SIZE, b"\0")


def extend_data(algo, rim: bytes, ipa: int, flags: int, page: bytes | None) -> bytes:
    """The RIM after DATA_CREATE of ``page`` at ``ipa`` (content hashed iff ``flags`` is 1)."""
    content = digest(algo, page) if flags == 1 else b""
    return digest(algo, data_descriptor(rim, ipa, flags, content))


def rec_content_hash(algo, params: dict) -> bytes:
    """H(RmiRecParams with only flags, pc and gprs kept)."""
    return digest(algo, measured_image(REC_PARAMS, params, REC_PARAMS_MEASURED))


def extend_rec(algo, rim: bytes, params: dict) -> bytes:
    """The RIM after REC_CREATE of a runnable REC with ``params``."""
    return digest(algo, rec_descriptor(rim, rec_content_hash(algo, params)))


def extend_ripas(algo, rim: bytes, base: int, top: int) -> bytes:
    """The RIM after RTT_INIT_RIPAS processed the entry covering ``[base, top)``."""
    return digest(algo, ripas_descriptor(rim, base, top))


def extend_rem(algo, rem: bytes, value: bytes) -> bytes:
    """RSI_MEASUREMENT_EXTEND: REM = H(REM || value)."""
    return digest(algo, bytes(rem) + bytes(value))


def predict_rim(realm_params: dict, steps) -> bytes:
    """The RIM a realm will have, computed without a machine.

    Parameters
    ----------
    realm_params : dict
        RmiRealmParams fields (only the measured ones matter; ``hash_algo`` picks SHA-256/512).
    steps : iterable
        The measured commands in order: ``("data", ipa, page_bytes, flags)``,
        ``("ripas", base, top)`` per RTT entry RTT_INIT_RIPAS processes, ``("rec", rec_params)``
        for each runnable REC.
    """
    algo = HashAlgo(realm_params.get("hash_algo", 0))
    rim = rim_init(algo, realm_params)
    for step in steps:
        kind = step[0]
        if kind == "data":
            _, ipa, page, flags = step
            rim = extend_data(algo, rim, ipa, flags, page)
        elif kind == "ripas":
            rim = extend_ripas(algo, rim, step[1], step[2])
        elif kind == "rec":
            rim = extend_rec(algo, rim, step[1])
        else:
            raise ValueError(f"unknown measured step {kind!r} (data, ripas or rec)")
    return rim


__all__ = ["HashAlgo", "DescType", "rim_init", "extend_data", "extend_rec", "extend_ripas", "extend_rem",
           "data_descriptor", "rec_descriptor", "ripas_descriptor", "rec_content_hash", "predict_rim",
           "digest", "MEASUREMENT_SLOTS"]
