"""A QR code of the dashboard's address, drawn in the terminal for a phone's camera.

``qrcode`` (pure Python, no dependencies of its own) makes the matrix; it is drawn
with half-block characters, two modules a line, so the code comes out square, and each
line sets its own colours (black on white, then back), so it is dark on light with its
quiet zone as the standard wants whatever the terminal's own colours are (an inverted
code is one many phones refuse).
"""

from __future__ import annotations

QUIET = 4
"""Modules of light margin around the code (the standard's minimum)."""

_BLOCK = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
"""(top dark, bottom dark) -> character, in black on white."""
_PAPER, _PLAIN = "\033[30;47m", "\033[0m"


def matrix(text: str) -> list[list[bool]]:
    """The QR modules of ``text`` (True = dark), with the quiet zone around them."""
    import qrcode

    code = qrcode.QRCode(border=QUIET, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def terminal_qr(text: str) -> str:
    """``text`` as a QR code in lines of text, each on its own white paper."""
    rows = matrix(text)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return "\n".join(_PAPER + "".join(_BLOCK[top, bottom] for top, bottom in
                                      zip(a, b, strict=True)) + _PLAIN
                     for a, b in zip(rows[::2], rows[1::2], strict=True))
