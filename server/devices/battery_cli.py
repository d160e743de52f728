"""`bodycam-server device battery`: each camera's battery health from its audit log."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.devices.battery import as_json, battery_devices, battery_history, format_table

__all__ = ["add_battery_command"]

Run = Callable[[argparse.Namespace], int]


def _battery(args: argparse.Namespace) -> int:
    context = ServerContext.open(args.data_dir)
    try:
        with Access.of(context).work(CONSOLE, "device.battery") as work:
            devices = battery_devices(work, args.device)
        histories = [battery_history(context, device) for device in devices]
    finally:
        context.close()
    print(as_json(histories) if args.json else format_table(histories))
    return 0


def add_battery_command(device: argparse._SubParsersAction[argparse.ArgumentParser],
                        command: Callable[..., argparse.ArgumentParser]) -> None:
    """On the `device` group of bodycam-server's parser."""
    sub = command("battery", _battery, "each camera's battery health (capacity against "
                  "design capacity over time), from the audit logs cameras offload",
                  into=device)
    sub.add_argument("--device", metavar="ID", help="one camera (default: every camera)")
    sub.add_argument("--json", action="store_true", help="machine-readable, every reading")
