"""Every console script ends quietly with 141 when its reader goes away (`... | head`).

Run as a user runs them: the installed scripts, in a child process, with stdout a pipe
whose reader is gone before anything was written. With and without PYTHONUNBUFFERED:
that variable makes stdout unbuffered, which once hid a BrokenPipeError that otherwise
surfaces at interpreter exit (exit 120 and "Exception ignored" on stderr).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(sys.executable).parent


def run_with_reader_gone(argv: list[str], *, unbuffered: bool) -> tuple[int, str]:
    """Exit code and stderr of `argv` whose stdout reader closed before it wrote."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([str(SCRIPTS / argv[0]), *argv[1:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read().decode()
    return proc.wait(60), err


OUTPUT_COMMANDS = {
    "bodycam diagram": lambda tmp: ["bodycam", "diagram"],
    "bodycam-evidence keygen": lambda tmp: ["bodycam-evidence", "keygen", "-o",
                                            str(tmp / "id.txt")],
}
HELP_COMMANDS = ["bodycam --help", "bodycam-evidence --help", "bodycam-provision --help",
                 "bodycam-provision --version"]


def quiet(err: str) -> bool:
    """Nothing on stderr about the pipe (a command's own messages may be there)."""
    return "Traceback" not in err and "Exception ignored" not in err and "Broken" not in err


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize("command", sorted(OUTPUT_COMMANDS))
def test_reader_going_away_ends_quietly_with_141(tmp_path: Path, command: str,
                                                  unbuffered: bool) -> None:
    argv = OUTPUT_COMMANDS[command](tmp_path)
    code, err = run_with_reader_gone(argv, unbuffered=unbuffered)
    assert code == 141, err
    assert quiet(err), err


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize("command", HELP_COMMANDS)
def test_help_to_a_reader_gone_is_quiet(command: str, unbuffered: bool) -> None:
    """argparse ignores a failed write (exit 0 when stdout is unbuffered); buffered, the
    failure shows at our flush (141). Either way: no traceback, nothing on stderr."""
    code, err = run_with_reader_gone(command.split(), unbuffered=unbuffered)
    assert code in (0, 141) and err == "", (code, err)


def test_a_reader_that_stays_gets_everything() -> None:
    """The flush inside the handler changes nothing for a reader that reads."""
    result = subprocess.run([str(SCRIPTS / "bodycam"), "diagram"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("stateDiagram") and result.stdout.endswith("\n")
