"""`bodycam`: the device program and its maintenance commands."""

from __future__ import annotations

from collections.abc import Sequence

from bodycam.firmware.commands import Command, dispatch

COMMANDS = (
    Command("run", "run the camera on the Raspberry Pi hardware (systemd service)",
            "bodycam.firmware.device.run_cmd"),
    Command("sim", "run the same program on the simulated hardware",
            "bodycam.firmware.device.sim_cmd"),
    Command("check-config", "validate a configuration file (exit 0 valid, 1 invalid)",
            "bodycam.firmware.config.check_cmd"),
    Command("identity", "print the device id and its signing public key",
            "bodycam.firmware.evidence.identity_cmd"),
    Command("diagram", "print the state machine as a Mermaid state diagram",
            "bodycam.firmware.device.diagram_cmd"),
    Command("bench", "measure the pipeline, press-to-record latency, startup and display",
            "bodycam.tools.bench.command"),
    Command("shift", "simulate a 12-hour shift on one battery for each pre-record choice",
            "bodycam.tools.bench.shift_cmd"),
    Command("selftest", "check camera, microphone, display, buttons and battery gauge",
            "bodycam.firmware.device.selftest_cmd"),
    Command("hal-demo", "exercise the simulated hardware layer and write sample outputs",
            "bodycam.hal.sim.demo"),
)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("bodycam", "Body-worn camera firmware.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
