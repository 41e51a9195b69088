// Run a Python program under MicroPython's WebAssembly port, for the tests.
//
//   node run.mjs SPEC.json
//
// SPEC: {"files": {"/board/path.py": "/host/path.py", ...},   copied into the in-memory FS
//        "path": ["/t", "/lib"],                                 put first on sys.path
//        "main": "/t/entry.py",                                  the program
//        "outputs": {"/out/x.bin": "/host/x.bin"},              copied back after the run
//        "heap_mb": 64}
// The program sees a module `hostnet` with blocking TCP to the host (hostnet.mjs). Its
// stdout is ours; an uncaught exception prints its traceback and exits 1.
import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { hostNet } from "./hostnet.mjs";

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const mp = await loadMicroPython({
  heapsize: (spec.heap_mb ?? 64) * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const [target, source] of Object.entries(spec.files ?? {})) {
  mp.FS.mkdirTree(path.posix.dirname(target));
  mp.FS.writeFile(target, fs.readFileSync(source));
}
mp.FS.mkdirTree("/out");
const net = hostNet();
mp.registerJsModule("hostnet", net.module);
let status = 0;
try {
  const entry = new TextDecoder().decode(mp.FS.readFile(spec.main));
  const paths = JSON.stringify(spec.path ?? []);
  mp.runPython(`import sys\nfor _p in reversed(${paths}):\n    sys.path.insert(0, _p)\n`);
  mp.runPython(entry);
} catch (error) {
  if (error.name !== "PythonError") throw error;
  if (error.type !== "SystemExit") {
    process.stderr.write(error.message + "\n");
    status = 1;
  }
}
for (const [source, target] of Object.entries(spec.outputs ?? {})) {
  try {
    fs.writeFileSync(target, mp.FS.readFile(source));
  } catch {
    // the program did not write it: the test says what was missing
  }
}
net.stop();
process.exit(status);
