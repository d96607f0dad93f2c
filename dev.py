"""Set up a local virtualenv on first use, then run tallybot or its tests in it.

    python3 dev.py console --demo --today 2024-04-03   # any `tallybot` arguments
    python3 dev.py test [pytest arguments]

Needs only Python 3.11+ and access to the package index. Reinstalls when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be run by an older python3)
        sys.exit(f"tallybot needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    stamp = VENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print("Installing tallybot and its test tools into .venv ...", file=sys.stderr)
    subprocess.run(
        [
            BIN / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--editable",
            f"{ROOT}[test]",
        ],
        check=True,
    )
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    ensure_venv()
    if argv[:1] == ["test"]:
        command = [BIN / "python", "-m", "pytest", *argv[1:]]
    else:
        command = [BIN / "tallybot", *argv]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
