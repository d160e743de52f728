"""Lazy imports of the Pi-only libraries.

`bodycam.hal.pi` must import on a custodian's x86 workstation, where libcamera, lgpio or
spidev do not exist, so every driver imports its library inside the function that needs
it. A missing library then surfaces as a HardwareError that says which package to install
instead of a bare ImportError at start-up.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bodycam.hal.interfaces import HardwareError

# How to install each library on Raspberry Pi OS (module name -> fix).
INSTALL_HINTS: dict[str, str] = {
    "picamera2": (
        "install it with `sudo apt install python3-picamera2` and create the venv with "
        "`--system-site-packages` so that the apt-only libcamera/pykms bindings are visible"
    ),
    "pyaudio": "install it with `sudo apt install python3-pyaudio` (or portaudio19-dev + pip)",
    "smbus2": "install it with `pip install smbus2` (the 'pi' extra of bodycam)",
    "spidev": "install it with `sudo apt install python3-spidev` (or pip install spidev)",
    "lgpio": "install it with `sudo apt install python3-lgpio` (or pip install lgpio)",
    "luma.oled": "install it with `pip install luma.oled`",
    "gpiozero": "install it with `sudo apt install python3-gpiozero` (or pip install gpiozero)",
}


def require(module: str, device: str) -> ModuleType:
    """Import `module` for `device`, or raise HardwareError naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".", maxsplit=1)[0]
        hint = INSTALL_HINTS.get(module) or INSTALL_HINTS.get(top) or f"install {top}"
        raise HardwareError(
            device, f"Python module {module}", f"cannot import it ({exc})", hint
        ) from exc
