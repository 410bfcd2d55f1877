"""Just enough DER to tell a CA certificate from others without importing `cryptography`.

A build in TLS mode `secret` reads the user's caBundle file and must refuse one without a CA;
`cryptography` would add 50-100 ms to every such build. This reader answers only "is this a CA"
(basicConstraints cA TRUE, and keyCertSign when a keyUsage is present, as kmc.tls.crypto.is_ca
does) and only when the structure is exactly what X.509 prescribes; anything else is None, and
the caller asks `cryptography`, which also says precisely what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import re

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.DOTALL)
_BASIC_CONSTRAINTS = bytes.fromhex("551d13")  # 2.5.29.19
_KEY_USAGE = bytes.fromhex("551d0f")  # 2.5.29.15
_SEQUENCE, _BOOLEAN, _OID, _OCTET_STRING, _BIT_STRING = 0x30, 0x01, 0x06, 0x04, 0x03
_EXTENSIONS = 0xA3  # [3] EXPLICIT in tbsCertificate
_KEY_CERT_SIGN = 5  # bit 5 of KeyUsage


class _Malformed(Exception):
    pass


def pem_certificates_are_ca(data: bytes) -> list[bool] | None:
    """For each PEM certificate in `data`, whether it is a CA; None when any cannot be read here."""
    blocks = _PEM_CERT.findall(data)
    if not blocks:
        return None
    try:
        return [_is_ca(base64.b64decode(b"".join(block.split()), validate=True)) for block in blocks]
    except (_Malformed, binascii.Error, ValueError):
        return None


def _is_ca(der: bytes) -> bool:
    certificate = _items(_only(der, _SEQUENCE))  # tbsCertificate, signatureAlgorithm, signatureValue
    if len(certificate) != 3 or certificate[0][0] != _SEQUENCE:
        raise _Malformed
    tbs = _items(certificate[0][1])
    extensions = [value for tag, value in tbs if tag == _EXTENSIONS]
    if not extensions:
        return False  # no extensions: no basicConstraints, not a CA
    found: dict[bytes, bytes] = {}
    for tag, extension in _items(_only(extensions[0], _SEQUENCE)):
        fields = _items(extension) if tag == _SEQUENCE else []
        if len(fields) not in (2, 3) or fields[0][0] != _OID or fields[-1][0] != _OCTET_STRING:
            raise _Malformed
        found[fields[0][1]] = fields[-1][1]
    if _BASIC_CONSTRAINTS not in found:
        return False
    constraints = _items(_only(found[_BASIC_CONSTRAINTS], _SEQUENCE))
    if not constraints or constraints[0][0] != _BOOLEAN or constraints[0][1] == b"\x00":
        return False  # cA absent (DEFAULT FALSE) or FALSE
    if _KEY_USAGE not in found:
        return True
    bits = _only(found[_KEY_USAGE], _BIT_STRING)
    if not bits:
        raise _Malformed
    byte, offset = divmod(_KEY_CERT_SIGN, 8)
    return len(bits) > 1 + byte and bool(bits[1 + byte] & (0x80 >> offset))


def _only(data: bytes, tag: int) -> bytes:
    """The value of the one `tag` element that `data` is."""
    items = _items(data)
    if len(items) != 1 or items[0][0] != tag:
        raise _Malformed
    return items[0][1]


def _items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) elements `data` consists of, in order."""
    items, at = [], 0
    while at < len(data):
        if at + 2 > len(data) or data[at] & 0x1F == 0x1F:
            raise _Malformed  # truncated, or a high tag number (X.509 uses none)
        tag, length, at = data[at], data[at + 1], at + 2
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4 or at + size > len(data):
                raise _Malformed
            length, at = int.from_bytes(data[at : at + size], "big"), at + size
        if at + length > len(data):
            raise _Malformed
        items.append((tag, data[at : at + length]))
        at += length
    return items
