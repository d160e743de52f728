"""Run `bodycam selftest --json` for the installer and judge it.

A camera is usually installed before it is provisioned: then it has no evidence
recipients and no device key yet (first boot makes the key), so those two parts cannot
pass and say nothing about the hardware. They are shown as pending; every other part
must pass. Once provisioned, every part must pass.

Runs with the system python3 (stdlib only):
    python3 tools/install/selftest.py [--unprovisioned] -- BODYCAM_COMMAND...
"""

from __future__ import annotations

import json
import subprocess
import sys

PROVISIONING_PARTS = frozenset({"recipients", "device-key"})


def judge(results: list[dict[str, object]], provisioned: bool) -> tuple[list[str], bool]:
    """Printable lines and whether the install may go on."""
    lines, passed = [], True
    for result in results:
        part, ok = str(result.get("part")), bool(result.get("ok"))
        detail, fix = result.get("detail", ""), result.get("fix", "")
        if ok:
            lines.append(f"  ok       {part}: {detail}")
        elif not provisioned and part in PROVISIONING_PARTS:
            lines.append(f"  pending  {part}: {detail} (expected until provisioned)")
        else:
            passed = False
            lines.append(f"  FAIL     {part}: {detail}" + (f"; fix: {fix}" if fix else ""))
    return lines, passed and bool(results)


def main(argv: list[str]) -> int:
    provisioned = "--unprovisioned" not in argv
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    try:
        results = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"the self-test did not run (exit {done.returncode}):\n{done.stderr.strip()}",
              file=sys.stderr)
        return 1
    lines, passed = judge(results, provisioned)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
