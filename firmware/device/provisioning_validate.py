"""Is a provisioning file fit for a camera in service? The one validation, run on the
technician's laptop (`bodycam-provision check`) and, unprivileged, on the camera.

Beyond what the loader and the camera's own rules check, a camera put into service
must name itself and must have somebody to encrypt for (otherwise it refuses to
record). Everything works on bytes already read, so what is checked is exactly what
gets installed.
"""

from __future__ import annotations

from pathlib import Path

from bodycam.firmware.config.device_rules import load_device_config
from bodycam.firmware.config.loader import (
    MAX_CONFIG_BYTES,
    ConfigError,
    ConfigProblem,
    ConfigText,
)
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.safe_read import NotRegularFileError, TooLargeError, read_regular
from bodycam.firmware.device.recipients_file import (
    RECIPIENTS_FILE_NAME,
    read_recipients,
    with_recipients,
)

__all__ = ["UNSET_DEVICE_ID", "read_input", "read_recipients_input", "validate_config",
           "validate_provisioning", "validate_with_recipients"]

UNSET_DEVICE_ID = "UNSET"


def read_input(path: Path, expected: str, hint: str) -> ConfigText:
    """A provisioning input file from the technician's disk. Raises ConfigError."""
    try:
        return ConfigText(str(path), read_regular(path, MAX_CONFIG_BYTES))
    except TooLargeError as exc:
        given: object = f"{exc.size} bytes"
        allowed = f"{expected} of at most {MAX_CONFIG_BYTES} bytes"
    except NotRegularFileError as exc:
        given, allowed = exc.kind, expected
    except OSError as exc:
        given, allowed = exc.strerror or str(exc), f"a readable {expected}"
        hint = "check the path and the file's permissions"
    raise ConfigError([ConfigProblem(str(path), "", given, allowed, hint)])


def validate_provisioning(path: Path) -> Config:
    """The configuration the file `path` gives, if fit for service. Raises ConfigError."""
    return validate_config(read_input(path, "a TOML text file", "this is not a "
                                      "bodycam.toml; copy the configuration text file"))


def validate_config(text: ConfigText) -> Config:
    """The configuration `text` gives on top of the shipped defaults, if fit for service.
    Raises ConfigError."""
    config = load_device_config(text)
    problems: list[ConfigProblem] = []
    if not config.evidence.recipients:
        problems.append(ConfigProblem(
            text.source, "evidence.recipients", [], "at least one age1... recipient",
            "add the evidence authority's public key(s); without one the camera "
            "refuses to record"))
    if config.device.id == UNSET_DEVICE_ID:
        problems.append(ConfigProblem(
            text.source, "device.id", UNSET_DEVICE_ID, "the camera's serial, e.g. BC-0001",
            "set [device] id to the serial on the camera's label"))
    if problems:
        raise ConfigError(problems)
    return config


def validate_with_recipients(config: ConfigText, recipients: ConfigText, *,
                             keep: bool) -> tuple[Config, bytes]:
    """The configuration `config` gives with the recipients file merged in (keep=True)
    or replacing its recipients (keep=False), and the exact text to install.

    The merged text is checked as the file it will be, so the installed configuration
    is valid on its own. Raises ConfigError.
    """
    keys = read_recipients(recipients.source, recipients.data)
    text = with_recipients(config, keys, keep=keep)
    merged = ConfigText(f"{config.source} with {recipients.source}", text)
    return validate_config(merged), text


def read_recipients_input(path: Path) -> ConfigText:
    """An age recipients file from the technician's disk. Raises ConfigError."""
    return read_input(path, "an age recipients text file",
                      f"this is not a {RECIPIENTS_FILE_NAME}; copy the recipients text file")
