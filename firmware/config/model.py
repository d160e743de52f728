"""The typed configuration every part of the firmware reads.

Plain frozen dataclasses: the loader (loader.py) builds them from layered TOML
(shipped defaults < device file < command-line flags) after validation, so code that
receives a `Config` never has to re-check a value. Section and field names here are
exactly the TOML table and key names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DisplayDriver = Literal["ssd1351", "ssd1331", "ssd1306", "sh1106"]
BatterySource = Literal["max17048", "none", "sim"]
KeyStoreKind = Literal["auto", "tpm", "software"]
MIB = 1024 * 1024  # the configuration states storage sizes in MiB ("mb" keys)


@dataclass(frozen=True)
class DeviceConfig:
    id: str  # device serial, e.g. "BC-0001"; appears in file names and manifests
    unit: str  # organisational unit, e.g. "Ordnungsamt Mitte"
    key_store: KeyStoreKind = "auto"  # where the signing key lives (auto: TPM if fitted)
    tpm_tcti: str = "device:/dev/tpmrm0"  # how to reach the TPM (tpm2-tss TCTI string)


@dataclass(frozen=True)
class EvidenceConfig:
    recipients: tuple[str, ...]  # age1pq1... or age1... recipients (never mixed)
    segment_seconds: float  # target segment length (cut at the next keyframe)
    prerecord_seconds: float  # 0-120
    prerecord_audio: bool  # whether the pre-record buffer keeps audio
    stall_seconds: float  # no camera/mic data for this long counts as a stall
    sync_interval_seconds: float  # fsync the open segment at least this often (<= 1)


@dataclass(frozen=True)
class VideoConfig:
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    keyframe_interval: int  # frames between keyframes


@dataclass(frozen=True)
class AudioConfig:
    enabled: bool
    sample_rate: int
    channels: int
    bitrate_kbps: int  # AAC bitrate


@dataclass(frozen=True)
class DisplayConfig:
    driver: DisplayDriver
    width: int
    height: int
    rotation: int  # 0, 90, 180, 270
    mirror: bool  # show the camera image mirrored (the person sees themselves)
    spi_port: int
    spi_device: int
    spi_speed_hz: int
    gpio_dc: int
    gpio_reset: int
    fps: int  # preview refresh target
    brightness: int = 50  # percent of the panel's full drive (luma contrast); 1-100


@dataclass(frozen=True)
class PinsConfig:
    """BCM GPIO numbers. Every pin may be used only once across the whole file."""

    button_record: int
    button_display: int
    button_power: int
    led_green: int
    led_red: int
    led_amber: int
    buzzer: int
    vibration: int
    dock_detect: int
    charging_detect: int


@dataclass(frozen=True)
class ButtonsConfig:
    debounce_ms: int
    hold_seconds: float  # record hold-to-stop and power hold-to-shutdown
    active_low: bool  # buttons pull the pin to ground (internal pull-up)


@dataclass(frozen=True)
class PowerConfig:
    battery_source: BatterySource
    i2c_bus: int
    i2c_address: int
    battery_low_percent: float  # backstop when no time estimate exists
    battery_critical_percent: float  # a reading at or below it is always acted on
    low_minutes: float = 30.0  # battery-low warning below this much time left
    critical_minutes: float = 5.0  # seal and power off below this much time left
    shift_hours: float = 12.0  # the shift forecast at boot/undock; 0 = no forecast
    shift_recording_share: float = 0.15  # share of the shift spent recording (0-1)
    sleep_after_idle_min: float = 0.0  # give up the pre-record buffer after; 0 = never
    model_file: Path | None = None  # the power table; None: the shipped power-model.toml
    radios_undocked: bool = False  # keep Wi-Fi/Bluetooth on out of the dock


@dataclass(frozen=True)
class StorageConfig:
    data_dir: Path  # evidence/ and audit/ live below it
    state_dir: Path  # device key and other private state
    reserve_mb: int  # never let free space fall below this
    nearly_full_mb: int  # alarm when free space falls below this

    @property
    def reserve_bytes(self) -> int:
        return self.reserve_mb * MIB

    @property
    def nearly_full_bytes(self) -> int:
        return self.nearly_full_mb * MIB


@dataclass(frozen=True)
class AlarmsConfig:
    reminder_interval_seconds: float  # reminder tone while recording; 0 = off
    clock_unset_alarm: bool


@dataclass(frozen=True)
class LedsConfig:
    brightness: int = 25  # percent PWM duty of the status LEDs; 1-100


@dataclass(frozen=True)
class PrivacyConfig:
    stealth_allowed: bool  # whether the wearer may suppress lights/sounds/display


@dataclass(frozen=True)
class OffloadConfig:
    """The pinned evidence server (docs/offload-protocol.md); server_url "" = no offload."""

    server_url: str = ""  # https://host:port
    server_address: str = ""  # the IP to connect to when the URL names a host
    server_ca: str = ""  # PEM of the CA that signs the server's TLS certificate
    server_key: str = ""  # base64 raw Ed25519: receipts and time statements verify under it
    bandwidth_kbps: int = 0  # 0 = unlimited
    timeout_seconds: float = 30.0
    retry_max_seconds: float = 300.0
    failures_before_alarm: int = 3

    @property
    def enabled(self) -> bool:
        return bool(self.server_url)


@dataclass(frozen=True)
class Config:
    device: DeviceConfig
    evidence: EvidenceConfig
    video: VideoConfig
    audio: AudioConfig
    display: DisplayConfig
    pins: PinsConfig
    buttons: ButtonsConfig
    power: PowerConfig
    storage: StorageConfig
    alarms: AlarmsConfig
    privacy: PrivacyConfig
    offload: OffloadConfig = field(default_factory=OffloadConfig)
    leds: LedsConfig = field(default_factory=LedsConfig)
    sources: tuple[str, ...] = field(default=())  # files/flags it was built from, in order
    digest: str = ""  # SHA-256 of the canonical effective configuration (for manifests)
