"""Strict CBOR decoding for attestation evidence: one item, definite lengths, no duplicate keys.

A verifier must not be more forgiving than the format. ``cbor2`` on its own accepts a map that
repeats a key (the last value wins) and ignores bytes after the first item; both let two parties
read different claims from the same token, so here both are errors. (``allow_duplicate_keys``
arrived in cbor2 6.1.0, and 6.1.1 fixed decoding above 4 KiB: hence the minimum version.)

Spec: RFC 8949 section 5.4 (a map with duplicate keys is not valid), section 5.3.1 (well-formedness);
draft-ffm-rats-cca-token, "CBOR encoding": definite lengths only, non-preferred serialization allowed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import cbor2

from ..errors import CCALabError

#: Deepest nesting a CCA token needs is 5 (collection > entry > COSE_Sign1 > claims > sw-component);
#: anything much deeper is refused before it can cost time or stack.
MAX_DEPTH = 16

#: A CBOR tag and its content, as decoded (``Tag(18, [...])``) or to encode.
Tag = cbor2.CBORTag


class CBORSyntaxError(CCALabError, ValueError):
    """The bytes are not one well-formed, valid CBOR item of the kind a CCA token is made of."""


def loads(data, *, what: str = "the data"):
    """Decode exactly one CBOR item, refusing what a CCA token may not contain.

    Refused: truncated input, indefinite-length strings and containers, a map that repeats a key,
    nesting deeper than :data:`MAX_DEPTH`, and any byte left over after the item.

    Parameters
    ----------
    data : bytes-like
        The encoded item.
    what : str
        How error messages name the data, e.g. ``"the platform token"``.

    Returns
    -------
    object
        The decoded item. Arrays inside a tag come back as tuples and maps as read-only mappings
        (``cbor2`` makes tagged content hashable); callers accept both.

    Raises
    ------
    CBORSyntaxError
        With a sentence saying what is wrong.

    Spec: RFC 8949 sections 3 and 5.4; draft-ffm-rats-cca-token "CBOR encoding" (definite lengths).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"CBOR data is bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise CBORSyntaxError(f"{what} is empty")
    fp = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(fp, allow_duplicate_keys=False, allow_indefinite=False,
                                max_depth=MAX_DEPTH)
    try:
        item = decoder.decode()
    except cbor2.CBORDecodeEOF:
        raise CBORSyntaxError(f"{what} is truncated: the CBOR item ends past the last of its "
                              f"{len(data)} bytes") from None
    except cbor2.CBORDecodeError as e:
        raise CBORSyntaxError(f"{what} is not valid CBOR: {_first_line(e)}") from None
    except RecursionError:
        raise CBORSyntaxError(f"{what} nests too deeply") from None
    except (ValueError, TypeError, OverflowError, LookupError, UnicodeError) as e:
        # Semantic tags (dates, bignums, ...) can fail in the decoder's own conversions.
        raise CBORSyntaxError(f"{what} is not valid CBOR: {_first_line(e)}") from None
    used = fp.tell()
    if used != len(data):
        raise CBORSyntaxError(f"{what} has {len(data) - used} byte(s) after its CBOR item "
                              f"(the item ends at byte {used})")
    return item


def dumps(obj) -> bytes:
    """Encode ``obj`` in preferred (shortest-form) CBOR, as a CCA token producer does.

    Spec: RFC 8949 section 4.1 (preferred serialization).
    """
    return cbor2.dumps(obj)


def kind(x) -> str:
    """A few words naming the CBOR type of a decoded item, for error messages (``a 32-byte bstr``)."""
    if isinstance(x, bytes):
        return f"a {len(x)}-byte bstr"
    if isinstance(x, str):
        return "a tstr"
    if isinstance(x, bool):
        return "a bool"
    if isinstance(x, int):
        return "an integer"
    if x is None:
        return "null"
    if isinstance(x, (list, tuple)):
        return f"an array of {len(x)}"
    if isinstance(x, Mapping):
        return "a map"
    if isinstance(x, Tag):
        return f"tag {x.tag}"
    return f"a {type(x).__name__}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


__all__ = ["loads", "dumps", "kind", "CBORSyntaxError", "MAX_DEPTH", "Tag"]
