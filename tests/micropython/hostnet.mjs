// Blocking TCP for MicroPython running in node's main thread.
//
// MicroPython's sockets block; node's do not. A worker thread owns the real sockets and
// the main thread waits on Atomics.wait (which node allows on its main thread) until the
// worker has done one operation, so Python code sees plain blocking calls. Byte strings
// cross as hex text: the WebAssembly port hands Python bytes to JS as opaque proxies.
import { Worker } from "node:worker_threads";

const workerCode = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const ctl = new Int32Array(workerData.ctl);   // [0] done flag, [1] result, [2] data length
const data = new Uint8Array(workerData.data);
const socks = new Map();
let nextId = 1;

function reply(result, bytes) {
  ctl[2] = bytes ? bytes.length : 0;
  if (bytes) data.set(bytes, 0);
  ctl[1] = result;
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

function serveRead(s) {
  const want = s.pending;
  if (!want) return;
  if (s.buf.length === 0 && !s.ended && !s.error) return;
  const n = Math.min(want.n, s.buf.length);
  const out = s.buf.subarray(0, n);
  s.buf = s.buf.subarray(n);
  if (want.timer) clearTimeout(want.timer);
  s.pending = null;
  reply(n > 0 ? n : (s.error ? -104 : 0), out);   // 0: the peer closed; -104 ECONNRESET
}

parentPort.on("message", (m) => {
  const s = socks.get(m.id);
  if (m.op === "connect") {
    const sock = net.connect({ host: m.host, port: m.port });
    const id = nextId++;
    const state = { sock, buf: new Uint8Array(0), ended: false, error: null, pending: null };
    let answered = false;
    sock.setNoDelay(true);
    sock.on("connect", () => { answered = true; socks.set(id, state); reply(id); });
    sock.on("error", (e) => {
      state.error = e;
      if (!answered) { answered = true; reply(-111); } else serveRead(state);   // ECONNREFUSED
    });
    sock.on("data", (chunk) => {
      const joined = new Uint8Array(state.buf.length + chunk.length);
      joined.set(state.buf);
      joined.set(chunk, state.buf.length);
      state.buf = joined;
      serveRead(state);
    });
    sock.on("close", () => { state.ended = true; serveRead(state); });
  } else if (!s) {
    reply(-9);                                                                   // EBADF
  } else if (m.op === "send") {
    if (s.error || s.ended) { reply(-32); return; }                              // EPIPE
    const bytes = Buffer.from(m.hex, "hex");
    s.sock.write(bytes, (err) => reply(err ? -32 : bytes.length));
  } else if (m.op === "recv") {
    if (m.timeoutMs === 0 && s.buf.length === 0 && !s.ended && !s.error) {
      reply(-110);                                // a non-blocking read with nothing there
      return;
    }
    s.pending = { n: m.n, timer: null };
    if (m.timeoutMs > 0) {
      s.pending.timer = setTimeout(() => { s.pending = null; reply(-110); }, m.timeoutMs);   // ETIMEDOUT
    }
    serveRead(s);
  } else if (m.op === "close") {
    s.sock.destroy();
    socks.delete(m.id);
    reply(0);
  }
});
`;

export function hostNet(maxBytes = 1 << 20) {
  const ctlBuf = new SharedArrayBuffer(12);
  const dataBuf = new SharedArrayBuffer(maxBytes);
  const ctl = new Int32Array(ctlBuf);
  const data = new Uint8Array(dataBuf);
  const worker = new Worker(workerCode, { eval: true, workerData: { ctl: ctlBuf, data: dataBuf } });
  worker.unref();
  const call = (message) => {
    Atomics.store(ctl, 0, 0);
    worker.postMessage(message);
    Atomics.wait(ctl, 0, 0);
    return [ctl[1], Buffer.from(data.subarray(0, ctl[2])).toString("hex")];
  };
  return {
    module: {
      // each returns a negative errno on failure
      connect: (host, port) => call({ op: "connect", host, port })[0],
      send: (id, hex) => call({ op: "send", id, hex })[0],
      // bytes as hex ("" when the peer closed), or a negative errno (-110: timed out)
      recv: (id, n, timeoutMs) => { const [r, hex] = call({ op: "recv", id, n, timeoutMs }); return r >= 0 ? hex : r; },
      close: (id) => call({ op: "close", id })[0],
    },
    stop: () => worker.terminate(),
  };
}
