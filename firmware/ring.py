"""A bounded ring of frame buffers in RAM, allocated once at boot.

The drain timer fills frames into the ring; the main loop takes the oldest out to
publish it and hands the buffer back. A buffer taken out is never in the ring, so
a drain that runs while a publish blocks (a soft timer does: it runs inside
blocking calls) never writes into a frame that is being sent. When the ring is
full the oldest frame is dropped and counted: the Pi sees the gap in sequence
numbers and reports it.
"""


class FrameRing:
    def __init__(self, slots, slot_bytes):
        self.capacity = slots
        self._bufs = [bytearray(slot_bytes) for _ in range(slots)]
        self._lens = [0] * slots
        self._spare = bytearray(slot_bytes)
        self._head = 0   # next slot to fill
        self._tail = 0   # oldest frame
        self.count = 0      # frames ready to send
        self.dropped = 0
        self.busy = False   # the main loop is moving buffers: the drain waits a tick
        self._filling = 0   # 1 while the drain fills the head slot

    def filling(self):
        """The buffer to fill next; when the ring is full the oldest frame is dropped."""
        if self.count == self.capacity:
            self._tail = (self._tail + 1) % self.capacity
            self.count -= 1
            self.dropped += 1
        self._filling = 1
        return self._bufs[self._head]

    def commit(self, nbytes):
        """The buffer from filling() now holds a frame of ``nbytes``."""
        self._lens[self._head] = nbytes
        self._head = (self._head + 1) % self.capacity
        self.count += 1
        self._filling = 0

    def take(self):
        """(buffer, nbytes) of the oldest frame, now out of the ring; None if empty."""
        self.busy = True
        if self.count == 0:
            self.busy = False
            return None
        i = self._tail
        buf, n = self._bufs[i], self._lens[i]
        self._bufs[i] = self._spare
        self._spare = None
        self._tail = (i + 1) % self.capacity
        self.count -= 1
        self.busy = False
        return buf, n

    def give_back(self, buf, nbytes, sent):
        """Return a taken buffer. Not sent: it goes back in front as the oldest frame,
        unless the ring filled meanwhile (then it is dropped and counted)."""
        self.busy = True
        if sent or self.count + self._filling >= self.capacity:
            if not sent:
                self.dropped += 1
            self._spare = buf
        else:
            self._tail = (self._tail - 1) % self.capacity
            self._spare = self._bufs[self._tail]
            self._bufs[self._tail] = buf
            self._lens[self._tail] = nbytes
            self.count += 1
        self.busy = False
