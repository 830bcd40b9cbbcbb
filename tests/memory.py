"""Run ``tiphub`` in a child process and read its own peak memory.

The peak is read from ``/proc/self/status`` (VmHWM) inside the command's process when it
exits: ``getrusage``/``wait4`` would count the copy of the (large) test process that the
fork made before ``exec``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_WRAPPER = (
    "import atexit, runpy, sys\n"
    "target = sys.argv[1]\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    open(target, 'w').write(status.split('VmHWM:')[1].split()[0])\n"
    "atexit.register(peak)\n"
    "sys.argv = ['tiphub', *sys.argv[2:]]\n"
    "runpy.run_module('tiphub.cli', run_name='__main__')\n"
)


def run_tiphub_measured(
    folder: Path, *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The finished command and its peak resident memory in MB."""
    peak_file = folder / "peak-kb"
    command = [sys.executable, "-c", _WRAPPER, str(peak_file), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return done, int(peak_file.read_text(encoding="ascii")) / 1024
