"""CRC-16/CCITT-FALSE line checksums of protocol v2 (`<json> *XXXX`), for the host and the simulator."""

from __future__ import annotations

from binascii import crc_hqx

SUFFIX_LEN = 6  # " *XXXX"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data` (the firmware's protocol.crc16): the standard library's CRC-CCITT from 0xFFFF."""
    return crc_hqx(data, 0xFFFF)


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
