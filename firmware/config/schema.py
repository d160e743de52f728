"""Every configuration key: its rule and what it means. The one source of truth.

The loader validates against this table and the reference (README table) is generated
from it; defaults live in config/defaults.toml. tests/test_config_schema.py checks that
the keys here are exactly the fields of firmware/config/model.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from bodycam.firmware.config.offload_rules import (
    CaCertificates,
    Ed25519Key,
    HttpsUrl,
    IpAddress,
)
from bodycam.firmware.config.rules import (
    AbsolutePath,
    Choice,
    Flag,
    FloatRange,
    IntChoice,
    IntRange,
    Pin,
    Recipients,
    Rule,
    Text,
)

# luma.core.interface.serial.spi asserts the bus speed is one of these (MHz x 1e6).
LUMA_SPI_SPEEDS_HZ = tuple(
    int(mhz * 1_000_000)
    for mhz in (0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 50, 52)
)

# Panel sizes each luma.oled driver is used with on this camera (a subset of what luma
# accepts, checked against luma in the tests).
DISPLAY_SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "ssd1351": ((128, 128), (128, 96)),
    "ssd1331": ((96, 64),),
    "ssd1306": ((128, 64), (128, 32)),
    "sh1106": ((128, 64),),
}


@dataclass(frozen=True)
class Setting:
    key: str  # dotted: "section.name"
    rule: Rule
    doc: str

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        return self.key.partition(".")[2]


_SETTINGS = (
    # device
    Setting("device.id", Text(32, r"[A-Za-z0-9-]{1,32}",
                              "1-32 letters, digits or '-'"),
            "Device serial; appears in file names, manifests and the audit log. "
            '"UNSET" until provisioned.'),
    Setting("device.unit", Text(64), "Organisational unit the camera belongs to."),
    Setting("device.key_store", Choice(("auto", "tpm", "software")),
            "Where the device signing key lives: a TPM 2.0 (cannot be copied off the card), "
            "a key file (can), or auto (the TPM when /dev/tpmrm0 exists). "
            "See docs/threat-model.md."),
    Setting("device.tpm_tcti", Text(128, r"(device|swtpm|mssim):[A-Za-z0-9/=,._:-]{1,120}",
                                    "a tpm2-tss TCTI, e.g. device:/dev/tpmrm0"),
            "How the camera reaches its TPM (only with a TPM key store)."),
    # evidence
    Setting("evidence.recipients", Recipients(),
            "Public age keys of the evidence authority (e.g. agency key + escrow key). "
            "Every segment is encrypted to all of them; the camera cannot decrypt. "
            "`bodycam check-config --require-recipients` rejects an empty list."),
    Setting("evidence.segment_seconds", FloatRange(2, 300, "s"),
            "Target segment length; the cut happens at the next keyframe."),
    Setting("evidence.prerecord_seconds", FloatRange(0, 120, "s"),
            "Pre-event buffer kept in RAM and prepended when recording starts; 0 = none."),
    Setting("evidence.prerecord_audio", Flag(),
            "Whether the pre-event buffer keeps audio (off by default: legal in fewer places)."),
    Setting("evidence.stall_seconds", FloatRange(0.5, 30, "s"),
            "No camera or microphone data for this long counts as a stall: audited, "
            "media_stall alarm to the wearer, the recording goes on with a gap."),
    Setting("evidence.sync_interval_seconds", FloatRange(0.05, 1, "s"),
            "The open segment is flushed to disk at least this often, in wall-clock time "
            "and in media written (the pre-record flush): bounds power-loss."),
    # video
    Setting("video.width", IntRange(160, 1920, "px", even=True), "Recorded frame width."),
    Setting("video.height", IntRange(120, 1080, "px", even=True), "Recorded frame height."),
    Setting("video.fps", IntRange(1, 60, "frames/s"),
            "Recorded frame rate; width x height x fps is limited to 1080p30."),
    Setting("video.bitrate_kbps", IntRange(250, 25000, "kbit/s"), "H.264 target bitrate."),
    Setting("video.keyframe_interval", IntRange(1, 600, "frames"),
            "Frames between keyframes; at most segment_seconds x fps."),
    # audio
    Setting("audio.enabled", Flag(), "Record sound with the video."),
    Setting("audio.sample_rate", IntChoice((16000, 22050, 32000, 44100, 48000), "Hz"),
            "Microphone sample rate."),
    Setting("audio.channels", IntRange(1, 2), "1 = mono, 2 = stereo."),
    Setting("audio.bitrate_kbps", IntRange(32, 320, "kbit/s"), "AAC bitrate."),
    # display
    Setting("display.driver", Choice(tuple(DISPLAY_SIZES)),
            "luma.oled driver of the outward-facing panel."),
    Setting("display.width", IntRange(32, 256, "px"),
            "Panel width; must be a size the driver supports (see display.height)."),
    Setting("display.height", IntRange(16, 256, "px"),
            "Panel height. Sizes: " + "; ".join(
                f"{driver} " + " or ".join(f"{w}x{h}" for w, h in sizes)
                for driver, sizes in DISPLAY_SIZES.items())
            + "."),
    Setting("display.rotation", IntChoice((0, 90, 180, 270), "degrees"),
            "Rotation of the panel as mounted."),
    Setting("display.mirror", Flag(),
            "Show the camera image mirrored, so the person sees themselves as in a mirror."),
    Setting("display.spi_port", IntChoice((0, 1)), "SPI bus (0 = SPI0, 1 = SPI1)."),
    Setting("display.spi_device", IntChoice((0, 1, 2)),
            "SPI chip select (CE0/CE1; CE2 only on SPI1)."),
    Setting("display.spi_speed_hz", IntChoice(LUMA_SPI_SPEEDS_HZ, "Hz"),
            "SPI clock; luma accepts only these values (SSD1351 is rated for 20 MHz)."),
    Setting("display.gpio_dc", Pin(), "Data/command select pin of the panel."),
    Setting("display.gpio_reset", Pin(), "Reset pin of the panel."),
    Setting("display.fps", IntRange(1, 60, "frames/s"), "Preview refresh target."),
    Setting("display.brightness", IntRange(1, 100, "%"),
            "Drive of the front panel in percent of full (luma contrast 0-255; luma starts "
            "colour panels at full). An OLED's current, so its power, falls in proportion; "
            "its perceived brightness much less (Stevens' power law, exponent about 0.33: "
            "half the drive looks about 80 % as bright). 50 keeps the mirror picture "
            "legible indoors and in shade; raise it where cameras work in bright sun. 0 is "
            "refused: the recording mark must stay visible."),
    # pins
    Setting("pins.button_record", Pin(), "Record button (press: start; hold: stop)."),
    Setting("pins.button_display", Pin(), "Display button (front display on/off)."),
    Setting("pins.button_power", Pin(), "Power button (hold: shut down)."),
    Setting("pins.led_green", Pin(), "Green status LED (ready)."),
    Setting("pins.led_red", Pin(), "Red status LED (recording)."),
    Setting("pins.led_amber", Pin(), "Amber status LED (warning/fault)."),
    Setting("pins.buzzer", Pin(), "Buzzer (confirmation and alarm tones)."),
    Setting("pins.vibration", Pin(), "Vibration motor (haptic confirmation)."),
    Setting("pins.dock_detect", Pin(), "Input: camera sits in the dock."),
    Setting("pins.charging_detect", Pin(), "Input: battery is charging."),
    # buttons
    Setting("buttons.debounce_ms", IntRange(1, 500, "ms"),
            "Edges closer together than this are contact bounce."),
    Setting("buttons.hold_seconds", FloatRange(0.5, 10, "s"),
            "Hold time for record-stop and power-off."),
    Setting("buttons.active_low", Flag(),
            "Buttons pull the pin to ground (internal pull-up enabled)."),
    # power
    Setting("power.battery_source", Choice(("max17048", "none", "sim")),
            'Battery gauge: MAX17048 on I2C, "none" (mains/bench) or "sim" (simulator).'),
    Setting("power.i2c_bus", IntRange(0, 31),
            "I2C bus of the gauge (/dev/i2c-N; 1 on the 40-pin header)."),
    Setting("power.i2c_address", IntRange(0x08, 0x77, hexadecimal=True),
            "7-bit I2C address of the gauge (MAX17048: 0x36)."),
    Setting("power.battery_low_percent", FloatRange(0, 100, "%"),
            "Battery-low warning threshold; must be above the critical threshold."),
    Setting("power.battery_critical_percent", FloatRange(0, 100, "%"),
            "Battery-critical alarm; recording is closed cleanly below it. A gauge reading "
            "at or below it is acted on even when the gauge looks faulty."),
    Setting("power.low_minutes", FloatRange(5, 600, "min"),
            "Battery-low warning when less time than this is left at the current draw "
            "(gauge rate, or the power model when the gauge has none or misbehaves)."),
    Setting("power.critical_minutes", FloatRange(1, 120, "min"),
            "Below this much time left at the current draw the camera seals any "
            "recording and powers off; must be less than low_minutes."),
    Setting("power.shift_hours", FloatRange(1, 24, "h", off=True),
            "At boot and when taken out of the dock the camera forecasts whether the "
            "battery lasts this long; if not, the shift_short alarm and an audit record."),
    Setting("power.shift_recording_share", FloatRange(0, 1, "(share of the shift)"),
            "Share of the shift the forecast assumes is spent recording (0.15: about "
            "1 h 50 min of 12 h)."),
    Setting("power.sleep_after_idle_min", FloatRange(1, 720, "min", off=True),
            "With pre-record on: after this long in idle the camera gives up the pre-record "
            "buffer and stops the camera (sleep, audited, green LED blinks slowly); any "
            "press wakes it, RECORD records at once. 0 = never sleep."),
    Setting("power.model_file", AbsolutePath(empty_means="the shipped power-model.toml"),
            "The power table the prediction runs on: what each part draws in each state, "
            "the battery's capacity and curve. Replace the shipped estimates with a table "
            "measured on the camera (see the technician guide, section 10, Power)."),
    Setting("power.radios_undocked", Flag(),
            "Keep Wi-Fi and Bluetooth on out of the dock. Off (the default), the camera asks "
            "bodycam-radio.service to switch them off (rfkill) when it leaves the dock and "
            "on again in it: nothing on the camera uses a radio on duty, and an idle Wi-Fi "
            "costs about 0.1 W. Set true only for something configured that needs one."),
    # storage
    Setting("storage.data_dir", AbsolutePath(),
            "Evidence and audit log live below it. Paths are absolute in every file and "
            "override (the simulator passes its --data-dir as an absolute override)."),
    Setting("storage.state_dir", AbsolutePath(),
            "Device signing key and other private state; never inside data_dir nor around "
            "it (what copies the evidence must not carry the key). On the camera both stay "
            "below /var/lib/bodycam."),
    Setting("storage.reserve_mb", IntRange(16, 1_000_000, "MB"),
            "Free space never used for evidence (recording stops cleanly before it)."),
    Setting("storage.nearly_full_mb", IntRange(16, 1_000_000, "MB"),
            "Storage-nearly-full alarm below this much free space; must exceed reserve_mb."),
    # alarms
    Setting("alarms.reminder_interval_seconds", FloatRange(30, 3600, "s", off=True),
            "Reminder tone while recording."),
    Setting("alarms.clock_unset_alarm", Flag(), "Alarm when the clock was never set."),
    # privacy
    Setting("privacy.stealth_allowed", Flag(),
            "Whether the wearer may suppress lights, sounds and display while recording."),
    # offload (the evidence server; `bodycam-server init` writes the first four keys to
    # camera-offload.toml, which is layered as it is)
    Setting("offload.server_url", HttpsUrl(),
            "The agency's evidence server; while docked the camera offloads every sealed "
            "recording and its audit log there, and takes its time from it. Empty: no "
            "offload, everything stays on the card."),
    Setting("offload.server_address", IpAddress(),
            "Where the camera connects when server_url names the server by a host name "
            "(the camera looks up no names: its firewall lets it reach this one address); "
            "TLS still checks the name."),
    Setting("offload.server_ca", CaCertificates(),
            "PEM of the CA that signs the server's TLS certificate (pinned: no other CA "
            "is trusted). Required with server_url."),
    Setting("offload.server_key", Ed25519Key(),
            "The server's Ed25519 signing key: receipts and time must verify under it, or "
            "the camera removes nothing and sets no clock. Required with server_url."),
    Setting("offload.bandwidth_kbps", IntRange(0, 10_000_000, "kbit/s"),
            "Upload rate limit per camera, so a dock room at shift change does not flood "
            "the uplink; 0 = unlimited."),
    Setting("offload.timeout_seconds", FloatRange(5, 600, "s"),
            "A connection or answer that takes longer counts as a failed attempt."),
    Setting("offload.retry_max_seconds", FloatRange(5, 3600, "s"),
            "Longest wait between attempts after failures (the wait doubles from 5 s)."),
    Setting("offload.failures_before_alarm", IntRange(1, 100),
            "Failed attempts in a row (server unreachable, errors) before the docked "
            "pattern shows \"offload failing\"; a refusal (damaged, storage full, wrong "
            "server) shows it at once."),
    # leds
    Setting("leds.brightness", IntRange(1, 100, "%"),
            "PWM duty of the wearer's status LEDs in percent. An LED's power is proportional "
            "to the duty; a small light's perceived brightness goes with about the square "
            "root of its luminance (Stevens, exponent 0.5), so 25 looks half as bright for a "
            "quarter of the power. Raise it if wearers cannot read them in daylight. 0 is "
            "refused: stealth mode (privacy.stealth_allowed) is the only way to dark LEDs."),
)

SETTINGS: dict[str, Setting] = {s.key: s for s in _SETTINGS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in _SETTINGS))


def section_keys(section: str) -> list[str]:
    """Key names (without the section) of one section, in table order."""
    return [s.name for s in _SETTINGS if s.section == section]
