"""Rules for the real camera only: where its files may live, and whether it can record.

The simulator and the tests run the same program in temporary folders, so these rules
are not in the shipped schema: the camera program (`bodycam run`, `bodycam
check-config`) and the provisioning import add them to the loader's checks themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.checks import CheckSpec, Values
from bodycam.firmware.config.loader import ConfigText, load_config
from bodycam.firmware.config.model import MIB, Config
from bodycam.firmware.config.problems import ConfigProblem

__all__ = ["DEVICE_CHECKS", "SERVICE_WRITABLE", "StorageNeeds", "capacity_problems",
           "load_device_config"]

# The only tree bodycam.service may write (StateDirectory=bodycam, ProtectSystem=strict).
SERVICE_WRITABLE = Path("/var/lib/bodycam")
# Space a recording needs above the reserve before the camera can be called able to
# record: this many minutes at the configured bitrates.
MIN_RECORDING_MINUTES = 10


def check_service_writable(values: Values) -> list[ConfigProblem]:
    """Storage below /var/lib/bodycam. AbsolutePath already refuses `..`, so comparing
    the names is comparing the places."""
    problems = []
    for key in ("storage.data_dir", "storage.state_dir"):
        where = values[key].value
        assert isinstance(where, Path)
        if not where.is_relative_to(SERVICE_WRITABLE):
            problems.append(ConfigProblem(
                values[key].source, key, str(where), f"a directory below {SERVICE_WRITABLE}",
                "bodycam.service may write nowhere else (systemd sandbox); keep the "
                "default or choose a sub-directory"))
    return problems


DEVICE_CHECKS: tuple[CheckSpec, ...] = (
    (check_service_writable, ("storage.data_dir", "storage.state_dir")),
)


def load_device_config(*files: Path | ConfigText, overrides: Sequence[str] = ()) -> Config:
    """load_config with the camera's own rules added. Raises ConfigError."""
    return load_config(*files, overrides=overrides, extra_checks=DEVICE_CHECKS)


@dataclass(frozen=True)
class StorageNeeds:
    """What a configuration asks of the data partition (plain numbers, so the root
    process can judge them without parsing the file)."""

    reserve_mb: int
    nearly_full_mb: int
    recording_kbps: int  # video plus audio bitrate

    @classmethod
    def of(cls, config: Config) -> StorageNeeds:
        audio = config.audio.bitrate_kbps if config.audio.enabled else 0
        return cls(config.storage.reserve_mb, config.storage.nearly_full_mb,
                   config.video.bitrate_kbps + audio)


def capacity_problems(needs: StorageNeeds, partition_bytes: int,
                      source: str) -> list[ConfigProblem]:
    """Why a valid configuration could never record on a data partition of this size.

    A reserve as large as the card makes every recording "storage full"; a nearly-full
    threshold above it alarms from the first minute.
    """
    size_mb = partition_bytes // MIB
    kbps = needs.recording_kbps
    needed_mb = -(-kbps * 1000 // 8 * 60 * MIN_RECORDING_MINUTES // MIB)  # rounded up
    problems = []
    if needs.reserve_mb + needed_mb > size_mb:
        problems.append(ConfigProblem(
            source, "storage.reserve_mb", needs.reserve_mb,
            f"at most {max(size_mb - needed_mb, 0)} MB on this camera",
            f"the data partition holds {size_mb} MB, and recording needs the reserve plus "
            f"{needed_mb} MB ({MIN_RECORDING_MINUTES} minutes at {kbps} kbit/s); with this "
            "reserve every recording is refused as storage full: lower it (default 512)"))
    if needs.nearly_full_mb >= size_mb:
        problems.append(ConfigProblem(
            source, "storage.nearly_full_mb", needs.nearly_full_mb,
            f"less than the data partition's {size_mb} MB",
            "the storage-nearly-full alarm would sound from the start: lower it "
            "(default 2048)"))
    return problems
