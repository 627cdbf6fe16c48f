"""The Realm Services Interface: the calls a realm makes to the RMM (RMM 1.0).

Each handler takes the running REC's execution context and the call's X1.. registers and either
returns the result registers to the realm (X0 = RsiStatus, then results) or raises a REC exit.
One table, :data:`RSI_HANDLERS`, dispatches them.

Spec: RMM DEN0137 1.0-rel0, B5.3 "RSI commands".
"""

from __future__ import annotations

from .attestation import rsi_attestation_token_continue, rsi_attestation_token_init
from .basic import rsi_features, rsi_measurement_extend, rsi_measurement_read, rsi_realm_config, rsi_version
from .memory import rsi_host_call, rsi_ipa_state_get, rsi_ipa_state_set
from .status import RsiFid, RsiStatus

#: fid -> (name, handler)
RSI_HANDLERS = {
    RsiFid.RSI_VERSION: rsi_version,
    RsiFid.RSI_FEATURES: rsi_features,
    RsiFid.RSI_MEASUREMENT_READ: rsi_measurement_read,
    RsiFid.RSI_MEASUREMENT_EXTEND: rsi_measurement_extend,
    RsiFid.RSI_ATTESTATION_TOKEN_INIT: rsi_attestation_token_init,
    RsiFid.RSI_ATTESTATION_TOKEN_CONTINUE: rsi_attestation_token_continue,
    RsiFid.RSI_REALM_CONFIG: rsi_realm_config,
    RsiFid.RSI_IPA_STATE_SET: rsi_ipa_state_set,
    RsiFid.RSI_IPA_STATE_GET: rsi_ipa_state_get,
    RsiFid.RSI_HOST_CALL: rsi_host_call,
}
assert set(RSI_HANDLERS) == set(RsiFid)


def dispatch(ex, fid: int, args):
    """Run RSI call ``fid``; log it; return the registers for the realm (or raise a REC exit)."""
    from ..exits import _Exit

    log = ex.p.events
    handler = RSI_HANDLERS.get(fid)
    if handler is None:
        log.append("rsi", "RMM", f"RSI {fid:#x}: not implemented -> SMC_NOT_SUPPORTED", fid=fid)
        return (0xFFFF_FFFF_FFFF_FFFF,)
    name = RsiFid(fid).name
    try:
        out = handler(ex, *args)
    except _Exit as exit_:
        log.append("rsi", "RMM", f"{name} from REC {ex.rec.index}: exits to the host", fid=fid, command=name,
                   rec=ex.rec.rec, args=tuple(args[:4]), exit=exit_.fields.get("exit_reason"))
        raise
    try:
        status = RsiStatus(out[0]).spec_name
    except ValueError:
        status = f"{out[0]:#x}"
    log.append("rsi", "RMM", f"{name}({', '.join(f'{a:#x}' for a in args[:4])}) from REC {ex.rec.index} -> {status}",
               fid=fid, command=name, rec=ex.rec.rec, args=tuple(args[:4]), results=tuple(out))
    return out


__all__ = ["RSI_HANDLERS", "dispatch", "RsiFid", "RsiStatus"]
