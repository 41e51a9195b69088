"""The clip-on's own state for its retained topic heelraise/<device>/sensor.

Battery, Wi-Fi signal, ring buffer and IMU state, as JSON with ``"v": 1`` and a
unique id (the boot id and a counter). The fields are checked on the Pi by the
schema in pi_service/payloads.py (CLIP), which also writes their table in docs/wireless.md.
"""

import json

FIRMWARE = "1.0"
#: LiPo open-circuit voltage -> charge left, %, for a rough gauge (a 1 C cell at rest)
LIPO = ((4.20, 100), (4.00, 80), (3.85, 60), (3.75, 40), (3.65, 20), (3.50, 5), (3.30, 0))


def battery_pct(volts):
    """Charge left from a LiPo's voltage, by straight lines between the LIPO points."""
    if volts >= LIPO[0][0]:
        return 100
    for (v_hi, p_hi), (v_lo, p_lo) in zip(LIPO, LIPO[1:]):
        if volts >= v_lo:
            return round(p_lo + (p_hi - p_lo) * (volts - v_lo) / (v_hi - v_lo))
    return 0


class Battery:
    """The cell's voltage through an ADC pin and a divider; None if there is no reading."""

    def __init__(self, adc, divider):
        self.adc = adc
        self.divider = divider

    def volts(self):
        if self.adc is None:
            return None
        return round(self.adc.read_u16() * 3.3 / 65535 * self.divider, 3)


def payload(device, ident, state, boot_id, **fields):
    """One status message as bytes: the common head, then what this state knows."""
    msg = {"v": 1, "id": ident, "device": device, "state": state,
           "boot_id": "{:08x}".format(boot_id), "firmware": FIRMWARE}
    msg.update(fields)
    return json.dumps(msg).encode()
