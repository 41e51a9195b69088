# Runs at boot. An unexpected error restarts the board after a pause (the Pi sees a new
# boot id and starts a new clock epoch); Ctrl-C from mpremote stops it for maintenance.
import sys
import time

import clip
import machine

try:
    clip.main()
except Exception as exc:  # noqa: BLE001 - anything left over: start clean
    sys.print_exception(exc)
    time.sleep(5)
    machine.reset()
