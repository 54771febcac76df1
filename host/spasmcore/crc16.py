"""CRC-16/CCITT-FALSE line checksums of protocol v2 (`<json> *XXXX`), for the host and the simulator."""

from __future__ import annotations

SUFFIX_LEN = 6  # " *XXXX"

# CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, xorout 0 (check value 0x29B1 for b"123456789").
_TABLE = []
for _byte in range(256):
    _c = _byte << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x1021) if _c & 0x8000 else _c << 1
    _TABLE.append(_c & 0xFFFF)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data`."""
    crc = 0xFFFF
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ b]
    return crc


def seal(text: bytes) -> bytes:
    """`text` with its checksum appended: b'<text> *XXXX' (4 uppercase hex digits; no newline added)."""
    return text + b" *%04X" % crc16(text)


def split(line: bytes) -> tuple[bytes, bool | None]:
    """(body, verdict) of a line without its newline: verdict True (checksum matches), False (a suffix that
    does not match: a corrupted line) or None (no suffix: a v1 line, or a v2 line that lost it)."""
    if len(line) < SUFFIX_LEN or line[-SUFFIX_LEN:-4] != b" *":
        return line, None
    body, digits = line[:-SUFFIX_LEN], line[-4:]
    if not all(c in b"0123456789ABCDEF" for c in digits):
        return line, False
    return body, int(digits, 16) == crc16(body)
