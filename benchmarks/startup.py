"""How long the ``dissem`` command takes to answer, beside ``python -c pass`` in the same run.

Each command runs in a fresh interpreter (the one running this script, so the same venv),
REPEAT times, interleaved so a busy machine slows all alike; the figure is the median wall
time. The CPU column (user + system) shows how much of it is the command's own work when the
machine is busy; the load average is printed with the figures.

Targets: ``dissem --version`` within 0.15 s of ``python -c pass``; ``dissem validate`` of
the example config under 0.5 s. Exits 1 when a target is missed (``--no-check``: never).

Run: ``.venv/bin/python benchmarks/startup.py [--repeat N]``. To see where the time goes:
``.venv/bin/python -X importtime -c "from dissem.cli import main; main()" --version``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "dissem" / "example"
ENTRY = "from dissem.cli import main; main()"  # what the console script runs

#: label -> argv (after the interpreter)
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "dissem --version": ["-c", ENTRY, "--version"],
    "dissem --help": ["-c", ENTRY, "--help"],
    "dissem validate": ["-c", ENTRY, "validate", "--config", str(EXAMPLE)],
}
VERSION_MARGIN = 0.15
VALIDATE_LIMIT = 0.5


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: the children's environment: bytecode caching on, as an installed package has it (pip
#: compiles it at install), even when PYTHONDONTWRITEBYTECODE is set here; the cache goes to
#: a temporary folder, not into the checkout
CACHE = tempfile.mkdtemp(prefix="dissem-startup-pycache-")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = CACHE


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run in a fresh interpreter."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, cwd=ROOT, env=ENV, timeout=120, check=False
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took, _children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each command")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even if missed")
    args = parser.parse_args()

    times: dict[str, list[float]] = {label: [] for label in COMMANDS}
    cpus: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for argv in COMMANDS.values():  # warm the file cache and .pyc files
        run_once(argv)
    for _ in range(args.repeat):
        for label, argv in COMMANDS.items():
            wall, cpu = run_once(argv)
            times[label].append(wall)
            cpus[label].append(cpu)

    median = {label: statistics.median(t) for label, t in times.items()}
    cpu_median = {label: statistics.median(t) for label, t in cpus.items()}
    floor = median["python -c pass"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"start-up, median of {args.repeat} runs each (python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load}; bytecode cached as installed)"
    )
    print(f"{'command':<20} {'median':>8} {'min':>8} {'max':>8} {'- python':>9} {'CPU':>8}")
    for label, t in times.items():
        print(
            f"{label:<20} {median[label]:>7.3f}s {min(t):>7.3f}s {max(t):>7.3f}s "
            f"{median[label] - floor:>+8.3f}s {cpu_median[label]:>7.3f}s"
        )
    version_over = median["dissem --version"] - floor
    validate = median["dissem validate"]
    ok_version = version_over <= VERSION_MARGIN
    ok_validate = validate < VALIDATE_LIMIT
    print(
        f"target: dissem --version within {VERSION_MARGIN:.2f}s of python -c pass: "
        f"{version_over:+.3f}s {'ok' if ok_version else 'MISSED'}"
    )
    print(
        f"target: dissem validate (example config) under {VALIDATE_LIMIT:.2f}s: "
        f"{validate:.3f}s {'ok' if ok_validate else 'MISSED'}"
    )
    shutil.rmtree(CACHE, ignore_errors=True)
    return 0 if args.no_check or (ok_version and ok_validate) else 1


if __name__ == "__main__":
    sys.exit(main())
