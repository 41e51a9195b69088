"""The board's socket for the tests: real TCP to the host through ``hostnet``.

umqtt.simple on this socket talks to the test's real Mosquitto. The scenario can
cut the broker off (``cut()``: connects are refused and open sockets are reset,
which the real broker sees as a dropped client and answers with the last will)
and let it back (``mend()``). Blocking reads wait in steps of virtual time, so
soft timers keep firing as they would on a board. Every byte written is counted
(``SENT``) for the airtime figures.
"""

import binascii
import time

import hostnet

AF_INET = 2
SOCK_STREAM = 1
SOL_SOCKET = 1
SO_REUSEADDR = 4
ECONNREFUSED = 111
ECONNRESET = 104
ETIMEDOUT = 110
STEP_MS = 100        # a blocking read waits this long (real and virtual) per try
CUT = False
SENT = [0, 0]        # bytes, writes
_open = []


def cut():
    global CUT
    CUT = True
    for s in list(_open):
        s._reset()


def mend():
    global CUT
    CUT = False


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    return [(AF_INET, SOCK_STREAM, 0, "", (host, port))]


class socket:
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        self._id = None
        self._blocking = True
        self._timeout_ms = 30000
        self._reset_pending = False

    def connect(self, addr):
        if CUT:
            time.sleep_ms(50)   # the SYN goes unanswered a moment, then refused
            raise OSError(ECONNREFUSED)
        got = hostnet.connect(addr[0], addr[1])
        if got < 0:
            raise OSError(-got)
        self._id = got
        _open.append(self)

    def _reset(self):
        if self._id is not None:
            hostnet.close(self._id)
        self._reset_pending = True

    def _check(self):
        if self._reset_pending or self._id is None:
            raise OSError(ECONNRESET)

    def write(self, buf, n=None):
        self._check()
        if isinstance(buf, str):
            buf = buf.encode()  # a MicroPython socket takes str as bytes (umqtt relies on it)
        data = bytes(buf) if n is None else bytes(buf)[:n]
        got = hostnet.send(self._id, binascii.hexlify(data).decode())
        if got < 0:
            raise OSError(-got)
        SENT[0] += len(data)
        SENT[1] += 1
        return len(data)

    send = write
    sendall = write

    def read(self, n):
        self._check()
        if not self._blocking:
            got = hostnet.recv(self._id, n, 0)
            if got == -ETIMEDOUT:
                return None
            if isinstance(got, int):
                raise OSError(-got)
            return binascii.unhexlify(got)
        data = b""
        waited = 0
        while len(data) < n:
            got = hostnet.recv(self._id, n - len(data), STEP_MS)
            if got == -ETIMEDOUT:
                waited += STEP_MS
                time.sleep_ms(STEP_MS)      # soft timers fire while this read blocks
                self._check()
                if waited >= self._timeout_ms:
                    raise OSError(ETIMEDOUT)
                continue
            if isinstance(got, int):
                raise OSError(-got)
            if got == "":
                return data                 # the peer closed
            data += binascii.unhexlify(got)
        return data

    recv = read

    def setblocking(self, flag):
        self._blocking = bool(flag)

    def settimeout(self, seconds):
        self._blocking = seconds != 0
        self._timeout_ms = 30000 if seconds is None else int(seconds * 1000)

    def setsockopt(self, *args):
        pass

    def close(self):
        if self._id is not None and not self._reset_pending:
            hostnet.close(self._id)
        self._id = None
        if self in _open:
            _open.remove(self)
