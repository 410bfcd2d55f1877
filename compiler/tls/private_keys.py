"""Finding private keys in files that are about to leave the machine (a chart package, a push).

A key is found as PEM text (`-----BEGIN ... PRIVATE KEY-----`) or as base64 of such text, which
is how a Secret's `data` holds a `tls.key`.
"""

from __future__ import annotations

import base64
import binascii
import re

_PEM = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
# base64 of "-----BEGIN " at any of the three alignments a base64 run can start with.
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")
_BEGIN = b"-----BEGIN "


def holds_private_key(content: bytes) -> bool:
    """Whether `content` holds a PEM private key, as text or base64-encoded."""
    if _PEM.search(content):
        return True
    for run in _BASE64_RUN.finditer(content):
        text = run.group()
        try:
            decoded = base64.b64decode(text + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if _BEGIN in decoded and _PEM.search(decoded):
            return True
    return False
