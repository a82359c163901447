"""Message ids: random version-4 UUIDs as text, like `str(uuid.uuid4())`, but cheaper.

uuid4() makes one os.urandom syscall and a UUID object per id; here one urandom read
serves POOL ids and the text is formatted directly. Same randomness source, same format.
"""

from __future__ import annotations

import os

POOL = 256
_buf = b""
_pos = 0


def new_id() -> str:
    """A fresh random UUID (version 4, RFC 4122 variant) in canonical text form."""
    global _buf, _pos
    if _pos >= len(_buf):
        _buf, _pos = os.urandom(16 * POOL), 0
    b = bytearray(_buf[_pos : _pos + 16])
    _pos += 16
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
