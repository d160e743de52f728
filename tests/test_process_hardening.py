"""The camera program's own M4 layer: non-dumpable at start, a journal line on disk swap.

The dumpable flag is read back from the kernel (prctl PR_GET_DUMPABLE) in a fresh
interpreter, so nothing in this test process is changed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bodycam.firmware.device.process_hardening import swap_warning


def in_fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_make_undumpable_clears_the_kernel_flag() -> None:
    out = in_fresh_python("""
        from bodycam.firmware.device.process_hardening import is_dumpable, make_undumpable
        before = is_dumpable()
        print(before, make_undumpable(), is_dumpable())
    """)
    assert out == "True True False"


def test_bodycam_run_is_not_dumpable_from_its_first_line() -> None:
    """The real CLI path: even a start that ends on a bad configuration was hardened."""
    out = in_fresh_python("""
        from bodycam.firmware.cli import main
        from bodycam.firmware.device.process_hardening import is_dumpable
        rc = main(["run", "--config", "/nonexistent/bodycam.toml", "--set", "video.fps=broken"])
        print(rc, is_dumpable())
    """)
    assert out == "1 False"


def test_the_program_can_still_start_children_and_read_its_own_proc() -> None:
    """Non-dumpable makes /proc/self/* root-owned; the process must still list its own
    file descriptors (subprocess closes them through /proc/self/fd)."""
    out = in_fresh_python("""
        import os, subprocess
        from bodycam.firmware.device.process_hardening import make_undumpable
        assert make_undumpable()
        listed = len(os.listdir("/proc/self/fd")) > 0
        print(subprocess.run(["true"], check=False).returncode, listed)
    """)
    assert out == "0 True"


def fake_proc(tmp_path: Path, swaps: list[str], swap_max: str | None) -> tuple[Path, Path, Path]:
    tmp_path.mkdir(exist_ok=True)
    proc_swaps = tmp_path / "swaps"
    proc_swaps.write_text("Filename Type Size Used Priority\n"
                          + "".join(f"{name} file 102396 0 -2\n" for name in swaps))
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("0::/system.slice/bodycam.service\n")
    root = tmp_path / "sys-fs-cgroup"
    unit = root / "system.slice/bodycam.service"
    unit.mkdir(parents=True)
    if swap_max is not None:
        (unit / "memory.swap.max").write_text(swap_max + "\n")
    return proc_swaps, proc_cgroup, root


def test_swap_on_the_card_without_a_limit_is_reported_with_the_fix(tmp_path: Path) -> None:
    warning = swap_warning(*fake_proc(tmp_path, ["/var/swap"], "max"))
    assert warning and "/var/swap" in warning and "tools/install/install.sh" in warning


def test_swap_without_the_memory_controller_is_reported(tmp_path: Path) -> None:
    """Raspberry Pi kernels disable the memory cgroup: MemorySwapMax=0 is then ignored."""
    assert swap_warning(*fake_proc(tmp_path, ["/dev/mmcblk0p3"], None))


def test_no_warning_for_zram_no_swap_or_an_enforced_limit(tmp_path: Path) -> None:
    assert swap_warning(*fake_proc(tmp_path / "a", ["/dev/zram0"], "max")) is None
    assert swap_warning(*fake_proc(tmp_path / "b", [], "max")) is None
    assert swap_warning(*fake_proc(tmp_path / "c", ["/var/swap"], "0")) is None
