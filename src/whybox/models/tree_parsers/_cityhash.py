"""CatBoost's hash of categorical values: the low 32 bits of CityHash64 (v1.0) of the value's string form.

CatBoost models keep only these hashes of the categories they saw, so reading a category
from input means hashing it the same way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import InputError

_U32 = 0xFFFFFFFF

_M64 = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_K3 = 0xC949D7C7509E6557
_KMUL = 0x9DDFEA08EB382D69


def _u64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 8], "little")


def _u32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 4], "little")


def _rot(v: int, n: int) -> int:
    return v if n == 0 else ((v >> n) | (v << (64 - n))) & _M64


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _hash16(u: int, v: int) -> int:
    a = ((u ^ v) * _KMUL) & _M64
    a ^= a >> 47
    b = ((v ^ a) * _KMUL) & _M64
    b ^= b >> 47
    return (b * _KMUL) & _M64


def _hash0to16(s: bytes) -> int:
    n = len(s)
    if n > 8:
        a, b = _u64(s, 0), _u64(s, n - 8)
        return _hash16(a, _rot((b + n) & _M64, n)) ^ b
    if n >= 4:
        return _hash16((n + (_u32(s, 0) << 3)) & _M64, _u32(s, n - 4))
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K3)) & _M64) * _K2) & _M64
    return _K2


def _hash17to32(s: bytes) -> int:
    n = len(s)
    a = (_u64(s, 0) * _K1) & _M64
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * _K2) & _M64
    d = (_u64(s, n - 16) * _K0) & _M64
    return _hash16((_rot((a - b) & _M64, 43) + _rot(c, 30) + d) & _M64,
                   (a + _rot(b ^ _K3, 20) - c + n) & _M64)


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = _u64(s, i), _u64(s, i + 8), _u64(s, i + 16), _u64(s, i + 24)
    a = (a + w) & _M64
    b = _rot((b + a + z) & _M64, 21)
    c = a
    a = (a + x + y) & _M64
    b = (b + _rot(a, 44)) & _M64
    return (a + z) & _M64, (b + c) & _M64


def _hash33to64(s: bytes) -> int:
    n = len(s)
    z = _u64(s, 24)
    a = (_u64(s, 0) + (n + _u64(s, n - 16)) * _K0) & _M64
    b = _rot((a + z) & _M64, 52)
    c = _rot(a, 37)
    a = (a + _u64(s, 8)) & _M64
    c = (c + _rot(a, 7)) & _M64
    a = (a + _u64(s, 16)) & _M64
    vf, vs = (a + z) & _M64, (b + _rot(a, 31) + c) & _M64
    a = (_u64(s, 16) + _u64(s, n - 32)) & _M64
    z = _u64(s, n - 8)
    b = _rot((a + z) & _M64, 52)
    c = _rot(a, 37)
    a = (a + _u64(s, n - 24)) & _M64
    c = (c + _rot(a, 7)) & _M64
    a = (a + _u64(s, n - 16)) & _M64
    wf, ws = (a + z) & _M64, (b + _rot(a, 31) + c) & _M64
    r = _shift_mix(((vf + ws) * _K2 + (wf + vs) * _K0) & _M64)
    return (_shift_mix((r * _K0 + vs) & _M64) * _K2) & _M64


def _city_hash64(s: bytes) -> int:
    n = len(s)
    if n <= 16:
        return _hash0to16(s)
    if n <= 32:
        return _hash17to32(s)
    if n <= 64:
        return _hash33to64(s)
    x = _u64(s, 0)
    y = _u64(s, n - 16) ^ _K1
    z = _u64(s, n - 56) ^ _K0
    v = _weak32(s, n - 64, n, y)
    w = _weak32(s, n - 32, (n * _K1) & _M64, _K0)
    z = (z + _shift_mix(v[1]) * _K1) & _M64
    x = (_rot((z + x) & _M64, 39) * _K1) & _M64
    y = (_rot(y, 33) * _K1) & _M64
    pos, left = 0, (n - 1) & ~63
    while left:
        x = (_rot((x + y + v[0] + _u64(s, pos + 16)) & _M64, 37) * _K1) & _M64
        y = (_rot((y + v[1] + _u64(s, pos + 48)) & _M64, 42) * _K1) & _M64
        x ^= w[1]
        y ^= v[0]
        z = _rot(z ^ w[0], 33)
        v = _weak32(s, pos, (v[1] * _K1) & _M64, (x + w[0]) & _M64)
        w = _weak32(s, pos + 32, (z + w[1]) & _M64, y)
        z, x = x, z
        pos += 64
        left -= 64
    return _hash16((_hash16(v[0], w[0]) + _shift_mix(y) * _K1 + z) & _M64, (_hash16(v[1], w[1]) + x) & _M64)


def _cat_string(value: Any) -> bytes | None:
    """A categorical value as the bytes CatBoost hashes; None when CatBoost would refuse it."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return str(int(value)).encode("ascii")
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value)).encode("ascii")   # CatBoost refuses floats; 3.0 can only mean 3
    return None


def cat_feature_hash(value: Any) -> int:
    """CatBoost's 32-bit hash of a categorical value (a string, bytes or an integer), as an unsigned int."""
    data = _cat_string(value)
    if data is None:
        raise InputError(f"CatBoost takes categorical values as strings or integers, not {value!r}")
    return _city_hash64(data) & _U32
