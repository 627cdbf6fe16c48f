"""The memory encryption engine's cipher: XTS-AES-128/256 (IEEE Std 1619), batched over data units.

Public pieces: the bytes functions :func:`xts_encrypt` / :func:`xts_decrypt`; the batched arrays
API :func:`xts_key_schedule`, :func:`xts_encrypt_units`, :func:`xts_decrypt_units` (one kernel
call for many data units, key schedules as arrays so a per-MECID table can be kept);
:func:`backend` / :func:`set_backend` / :func:`available_backends` for the AES-NI or portable
back end; and :func:`warmup`. Kernels live in ``_kernels`` (portable T-table AES) and ``_aesni``
(x86 AES instructions, imported only after the CPU check), with the readable twin in
``_reference``.
"""

from .xts import (BACKENDS, MAX_DATA_UNIT, available_backends, backend, set_backend, tweak_bytes,
                  warmup, xts_decrypt, xts_decrypt_units, xts_encrypt, xts_encrypt_units,
                  xts_key_schedule)

__all__ = ["BACKENDS", "MAX_DATA_UNIT", "available_backends", "backend", "set_backend",
           "tweak_bytes", "warmup", "xts_decrypt", "xts_decrypt_units", "xts_encrypt",
           "xts_encrypt_units", "xts_key_schedule"]
