"""Run Python programs under real MicroPython (its WebAssembly port, in node) for the tests.

tests/micropython/run.mjs loads the port that scripts/setup installs with npm, copies
the files a test names into its in-memory filesystem, gives the program blocking TCP
to the host (``hostnet``: the test's real Mosquitto is reachable) and copies the
files it wrote back. Firmware files come from the board manifest
(firmware/MANIFEST), so a test runs what `scripts/flash` would copy to a board.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "micropython"
PORT = HARNESS / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
MANIFEST = ROOT / "firmware" / "MANIFEST"
#: micropython-lib's umqtt.simple, fetched from PyPI by scripts/setup --test
UMQTT = ROOT / ".venv" / "micropython-lib" / "umqtt" / "simple.py"


def missing() -> str | None:
    """Why MicroPython cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup --test installs it)"
    if not PORT.exists():
        return f"{PORT} missing: run scripts/setup --test"
    return None


def board_files() -> dict[str, Path]:
    """Board path -> repo file, from firmware/MANIFEST (what `scripts/flash` copies)."""
    files = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            board, repo = line.split()
            files[board] = ROOT / repo
    return files


def run(files: dict[str, Path], main: str, *, path: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (), timeout_s: float = 120, heap_mb: int = 64
        ) -> tuple[subprocess.CompletedProcess, dict[str, bytes]]:
    """Run ``main`` (a path in the board's filesystem) with ``files`` copied in.

    Returns the finished process (stdout, stderr, returncode: 1 on an uncaught
    exception) and the contents of each file of ``outputs`` the program wrote.
    """
    with tempfile.TemporaryDirectory(prefix="mpy-") as tmp:
        out_map = {name: os.path.join(tmp, f"out{i}") for i, name in enumerate(outputs)}
        spec = {"files": {k: str(v) for k, v in files.items()}, "path": list(path),
                "main": main, "outputs": out_map, "heap_mb": heap_mb}
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        proc = subprocess.run(["node", str(HARNESS / "run.mjs"), spec_path], cwd=HARNESS,
                              capture_output=True, text=True, timeout=timeout_s)
        got = {name: Path(p).read_bytes() for name, p in out_map.items() if Path(p).exists()}
    return proc, got
