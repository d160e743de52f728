"""Checks that involve more than one key: pin clashes, panel sizes, threshold order.

They run on the merged configuration and blame the key that was set in the later layer
(the one the technician most likely just edited), naming the other key and where it came
from, so the fix is obvious whichever of the two is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.config.offload_rules import parse_server_url
from bodycam.firmware.config.problems import ConfigProblem
from bodycam.firmware.config.rules import Pin, toml_literal
from bodycam.firmware.config.schema import DISPLAY_SIZES, SETTINGS


@dataclass(frozen=True)
class Entry:
    """A validated value and where it came from."""

    value: object
    source: str
    layer: int  # 0 = shipped defaults; higher layers override lower ones


Values = Mapping[str, Entry]
Check = Callable[[Values], list[ConfigProblem]]
CheckSpec = tuple[Check, tuple[str, ...]]  # a check and the keys it reads

PIN_KEYS = tuple(k for k, s in SETTINGS.items() if isinstance(s.rule, Pin))

# Header pins taken by the kernel once the bus is enabled (dtparam=spi=on claims both
# SPI0 chip selects; SPI1 overlays claim the chip select in use).
_SPI_BUS_PINS = {0: {9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK",
                     8: "SPI0 CE0", 7: "SPI0 CE1"},
                 1: {19: "SPI1 MISO", 20: "SPI1 MOSI", 21: "SPI1 SCLK"}}
_SPI_CHIP_SELECTS = {0: (8, 7), 1: (18, 17, 16)}
_I2C_BUS_PINS = {0: {0: "I2C0 SDA", 1: "I2C0 SCL"}, 1: {2: "I2C1 SDA", 3: "I2C1 SCL"}}
# The Pi 4's H.264 encoder (and a Pi 5 encoding in software) manages 1080p30.
MAX_PIXEL_RATE = 1920 * 1080 * 30


def _origin(values: Values, key: str) -> str:
    entry = values[key]
    return f"{key} = {toml_literal(entry.value)} (from {entry.source})"


def _later(values: Values, first: str, second: str) -> tuple[str, str]:
    """(blamed, other): the key from the higher layer is blamed; on a tie, `second`."""
    if values[first].layer > values[second].layer:
        return first, second
    return second, first


def _problem(values: Values, key: str, allowed: str, hint: str) -> ConfigProblem:
    return ConfigProblem(values[key].source, key, values[key].value, allowed, hint)


def _int(values: Values, key: str) -> int:
    value = values[key].value
    assert isinstance(value, int)
    return value


def _float(values: Values, key: str) -> float:
    value = values[key].value
    assert isinstance(value, int | float)
    return float(value)


def check_display_size(values: Values) -> list[ConfigProblem]:
    driver = values["display.driver"].value
    assert isinstance(driver, str)
    size = (_int(values, "display.width"), _int(values, "display.height"))
    sizes = DISPLAY_SIZES[driver]
    if size in sizes:
        return []
    blamed, _ = _later(values, "display.width", "display.height")
    blamed, _ = _later(values, "display.driver", blamed)
    shown = " or ".join(f"{w}x{h}" for w, h in sizes)
    return [_problem(values, blamed, f"{driver}: {shown}",
                     f"display.width x display.height is {size[0]}x{size[1]}; set a size "
                     f"the {driver} supports or change display.driver")]


def _reserved_pins(values: Values) -> tuple[dict[int, str], list[ConfigProblem]]:
    """Pins claimed by the display's SPI bus and the gauge's I2C bus, with the reason."""
    port = _int(values, "display.spi_port")
    device = _int(values, "display.spi_device")
    selects = _SPI_CHIP_SELECTS[port]
    problems: list[ConfigProblem] = []
    reserved = {pin: f"{name}, used by the display (display.spi_port = {port})"
                for pin, name in _SPI_BUS_PINS[port].items()}
    if device < len(selects):
        reserved.setdefault(selects[device],
                            f"SPI{port} CE{device}, the display's chip select")
    else:
        problems.append(_problem(values, "display.spi_device",
                                 f"0-{len(selects) - 1} on SPI{port}",
                                 f"SPI{port} has {len(selects)} chip selects"))
    if values["power.battery_source"].value == "max17048":
        bus = _int(values, "power.i2c_bus")
        for pin, name in _I2C_BUS_PINS.get(bus, {}).items():
            reserved[pin] = f"{name}, used by the battery gauge (power.i2c_bus = {bus})"
    return reserved, problems


def check_pins(values: Values) -> list[ConfigProblem]:
    """Every GPIO used once; none on a bus the display or battery gauge occupies."""
    allowed = "a GPIO 0-27 not used by any other key nor by the SPI/I2C buses in use"
    reserved, problems = _reserved_pins(values)
    owner: dict[int, str] = {}
    # Keys from lower layers claim first, so the later (edited) key is the one blamed.
    for key in sorted(PIN_KEYS, key=lambda k: values[k].layer):
        pin = _int(values, key)
        if pin in reserved:
            problems.append(_problem(values, key, allowed,
                                     f"GPIO {pin} is {reserved[pin]}; pick a free pin"))
        elif pin in owner:
            problems.append(_problem(values, key, allowed,
                                     f"GPIO {pin} is already used by {_origin(values, owner[pin])}"
                                     f"; give {key} or {owner[pin]} another pin"))
        else:
            owner[pin] = key
    return problems


def _ordered(low_key: str, high_key: str, what: str) -> Check:
    """A check that the value of `low_key` is strictly below that of `high_key`."""

    def check(values: Values) -> list[ConfigProblem]:
        if _float(values, low_key) < _float(values, high_key):
            return []
        blamed, other = _later(values, low_key, high_key)
        relation = "less" if blamed == low_key else "more"
        return [_problem(values, blamed, f"{relation} than {other}",
                         f"{other} is {values[other].value!r} (from {values[other].source}); "
                         f"{what}")]

    return check


def check_video_rate(values: Values) -> list[ConfigProblem]:
    width, height = _int(values, "video.width"), _int(values, "video.height")
    fps = _int(values, "video.fps")
    if width * height * fps <= MAX_PIXEL_RATE:
        return []
    blamed, _ = _later(values, "video.width", "video.fps")
    return [_problem(values, blamed, "width x height x fps up to 1920x1080x30",
                     f"{width}x{height} at {fps} fps is more than the H.264 encoder "
                     "manages; lower the resolution or the frame rate")]


def check_keyframes(values: Values) -> list[ConfigProblem]:
    """A segment must contain a keyframe to start at, or segments grow unbounded."""
    interval = _int(values, "video.keyframe_interval")
    limit = _float(values, "evidence.segment_seconds") * _int(values, "video.fps")
    if interval <= limit:
        return []
    return [_problem(values, "video.keyframe_interval",
                     f"at most evidence.segment_seconds x video.fps = {limit:g} frames",
                     "segments are cut at keyframes; lower the interval")]


def _path(values: Values, key: str) -> Path:
    value = values[key].value
    assert isinstance(value, Path)
    return value


def check_storage_apart(values: Values) -> list[ConfigProblem]:
    """Evidence and private state in separate trees: whatever copies or offloads the data
    directory must never carry the device key along, and evidence must never sit where
    the key's directory rules (0700, the service alone) would apply to it."""
    data, state = _path(values, "storage.data_dir"), _path(values, "storage.state_dir")
    if not (data.is_relative_to(state) or state.is_relative_to(data)):
        return []
    blamed, other = _later(values, "storage.data_dir", "storage.state_dir")
    where = ("is the same directory as" if data == state else
             "is inside" if _path(values, blamed).is_relative_to(_path(values, other))
             else "contains")
    return [_problem(values, blamed, f"a directory apart from {other}",
                     f"{blamed} {where} {_origin(values, other)}; evidence and the "
                     "device key must live in separate trees (e.g. /var/lib/bodycam/data "
                     "and /var/lib/bodycam/state)")]


_OFFLOAD_NEEDS: Mapping[str, str] = {
    "offload.server_ca": "the CA that signs the server's certificate (without it the camera "
                         "cannot tell the server from an impostor)",
    "offload.server_key": "the server's signing key (without it no receipt can be checked, "
                          "so nothing would ever be offloaded)",
}


def check_offload(values: Values) -> list[ConfigProblem]:
    """A server URL needs its pinned CA and key, and an address the firewall can allow:
    an IP in the URL, or offload.server_address beside a host name."""
    url = str(values["offload.server_url"].value)
    if not url:
        return []
    problems = [_problem(values, key, "the value from the server's camera-offload.toml",
                         f"offload.server_url is set ({_origin(values, 'offload.server_url')})"
                         f"; the camera needs {why}: copy {key.partition('.')[2]} from "
                         "camera-offload.toml")
                for key, why in _OFFLOAD_NEEDS.items() if not values[key].value]
    server = parse_server_url(url)
    address = str(values["offload.server_address"].value)
    if server.address is None and not address:
        problems.append(_problem(
            values, "offload.server_url", "an IP address as the host, or a host name "
            "together with offload.server_address",
            f"{server.host} is a name and the camera looks up no names (its firewall lets "
            "it reach one address only): set offload.server_address to the server's IP on "
            "the dock network, or write that IP in the URL"))
    elif server.address is not None and address and address != server.address:
        blamed, _ = _later(values, "offload.server_url", "offload.server_address")
        problems.append(_problem(
            values, blamed, f"the same address as the URL's ({server.address})",
            f"offload.server_url names {server.address} but offload.server_address is "
            f"{address}: the camera would connect to one and check the certificate of the "
            "other; leave server_address empty"))
    return problems


# Each check with the keys it reads: it is skipped when one of them is invalid, so one
# typo does not cascade into follow-up errors.
CHECKS: tuple[CheckSpec, ...] = (
    (check_display_size, ("display.driver", "display.width", "display.height")),
    (check_pins, (*PIN_KEYS, "display.spi_port", "display.spi_device",
                  "power.battery_source", "power.i2c_bus")),
    (_ordered("power.battery_critical_percent", "power.battery_low_percent",
              "the critical alarm must come after the low warning"),
     ("power.battery_critical_percent", "power.battery_low_percent")),
    (_ordered("power.critical_minutes", "power.low_minutes",
              "the critical alarm must come after the low warning"),
     ("power.critical_minutes", "power.low_minutes")),
    (_ordered("storage.reserve_mb", "storage.nearly_full_mb",
              "the nearly-full alarm must come before the reserve is reached"),
     ("storage.reserve_mb", "storage.nearly_full_mb")),
    (check_video_rate, ("video.width", "video.height", "video.fps")),
    (check_keyframes, ("video.keyframe_interval", "video.fps", "evidence.segment_seconds")),
    (check_storage_apart, ("storage.data_dir", "storage.state_dir")),
    (check_offload, ("offload.server_url", "offload.server_address", "offload.server_ca",
                     "offload.server_key")),
)


def cross_check(values: Values, extra: Sequence[CheckSpec] = ()) -> list[ConfigProblem]:
    """Every check (and the caller's `extra` ones) whose keys are all valid."""
    problems: list[ConfigProblem] = []
    for check, keys in (*CHECKS, *extra):
        if all(k in values for k in keys):
            problems.extend(check(values))
    return problems
