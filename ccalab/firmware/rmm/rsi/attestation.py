"""RSI_ATTESTATION_TOKEN_INIT and RSI_ATTESTATION_TOKEN_CONTINUE: a realm asks for its
attestation token and receives it in chunks.

INIT takes the 64-byte challenge (X1..X8), starts a new token (abandoning one in progress) and
returns an upper bound of its size. Each CONTINUE copies the next part of the token into the
realm's buffer and returns INCOMPLETE until the last part, then SUCCESS. The token itself
(the CCA platform token and the realm token, signed) comes from the platform's attestation
service, :attr:`Rmm.token_provider`; without one, INIT fails with ERROR_UNKNOWN (the RMM could
not produce a token), which is what an RMM without an attestation key does.

Spec: RMM DEN0137 1.0-rel0, RSI_ATTESTATION_TOKEN_INIT, RSI_ATTESTATION_TOKEN_CONTINUE (failure
conditions addr_align, offset_bound, size_overflow, size_bound, addr_bound, state), A7.2
"Attestation token".
"""

from __future__ import annotations

import struct

from .memory import realm_buffer, write_realm
from .status import RsiStatus

#: The upper bound INIT reports (TF-RMM sizes its token buffer in pages; one token fits in 4 KB).
MAX_TOKEN_SIZE = 4096


class TokenState:
    """The REC's token in progress: the challenge, the bytes once produced, how many were copied."""

    def __init__(self, challenge: bytes):
        self.challenge, self.token, self.offset = challenge, None, 0


def rsi_attestation_token_init(ex, *challenge_words):
    """RSI_ATTESTATION_TOKEN_INIT(X1..X8 = challenge): X1 = upper bound of the token's size."""
    challenge = struct.pack("<8Q", *(list(challenge_words) + [0] * 8)[:8])
    rmm = ex.rmm
    state = TokenState(challenge)
    provider = rmm.token_provider
    if provider is None:
        ex.rec.token = None
        return (RsiStatus.ERROR_UNKNOWN,)
    try:
        state.token = bytes(provider(rmm, ex.realm, challenge))
    except Exception as exc:  # the attestation service failed: the realm sees ERROR_UNKNOWN
        ex.p.events.append("rsi", "RMM", f"attestation token could not be produced: {exc}")
        ex.rec.token = None
        return (RsiStatus.ERROR_UNKNOWN,)
    ex.rec.token = state
    return RsiStatus.SUCCESS, max(MAX_TOKEN_SIZE, len(state.token))


def rsi_attestation_token_continue(ex, addr, offset, size, *_):
    """RSI_ATTESTATION_TOKEN_CONTINUE(addr, offset, size): copy up to ``size`` bytes of the token to
    ``addr + offset``; X1 = bytes copied; INCOMPLETE until the whole token has been copied."""
    if addr % 4096:  # addr_align
        return (RsiStatus.ERROR_INPUT,)
    if offset >= 4096:  # offset_bound
        return (RsiStatus.ERROR_INPUT,)
    if offset + size > 4096:  # size_overflow / size_bound
        return (RsiStatus.ERROR_INPUT,)
    if not ex.realm.in_par(addr):  # addr_bound
        return (RsiStatus.ERROR_INPUT,)
    state = ex.rec.token
    if state is None:  # state: no INIT
        return (RsiStatus.ERROR_STATE,)
    if size == 0:
        return RsiStatus.INCOMPLETE, 0
    pa = realm_buffer(ex, addr, write=True)
    if pa is None:
        return (RsiStatus.ERROR_INPUT,)
    chunk = state.token[state.offset:state.offset + size]
    write_realm(ex, pa + offset, chunk)
    state.offset += len(chunk)
    if state.offset >= len(state.token):
        ex.rec.token = None
        return RsiStatus.SUCCESS, len(chunk)
    return RsiStatus.INCOMPLETE, len(chunk)


__all__ = ["rsi_attestation_token_init", "rsi_attestation_token_continue", "TokenState", "MAX_TOKEN_SIZE"]
