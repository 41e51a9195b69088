"""The service's TOML config: what device this is, which sensor, which broker.

Validated strictly at start-up, because a typo found at 7 am by a patient is
worth less than one found by the maker who wrote it: every fault is one line
naming the file, the line and the key. Values are overridable from the command
line, so a config file is optional (the defaults run the simulated demo).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datafile import checked, load_toml
from .errors import ConfigError, PayloadError
from .feedback_config import FEEDBACK
from .schema import Field, boolean, integer, number, optional, string, table
from .topics import check_device

SOURCES = ("auto", "i2c", "wireless", "simulator", "recording")


def default_state_dir() -> Path:
    """Where durable state lives: systemd's StateDirectory, else the user's data dir."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "heelraise"


@dataclass
class SensorConfig:
    source: str = "auto"           # auto: an I2C IMU if one answers, else the simulator;
    #                                wireless: the clip-on's frames on heelraise/<device>/imu
    bus: int = 1
    address: int | None = None
    chip: str = "auto"
    rate_hz: float = 100.0
    recording: str | None = None   # for source = "recording"
    speed: float = 1.0             # replay speed for recordings and the simulator
    seed: int = 1                  # simulator session
    simulated_stage: int | None = None  # simulator plays this stage (default: the stage)


@dataclass
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    start_local: str = "auto"      # auto: start a private broker if none listens locally
    confirm: str = "auto"          # whose word lets a set leave the outbox (publish.CONFIRM)
    enabled: bool = True


@dataclass
class ServiceConfig:
    device: str = "heelraise"
    stage: int = 2
    stages_file: str | None = None
    calibration: str | None = None
    insertional: bool = False      # pain at the heel bone: no heel drops early on
    involved_side: str | None = None   # "left" or "right": the heel-rise test's symmetry
    body_mass_kg: float | None = None  # the heel-rise test's work (J)
    state_dir: str | None = None
    sensor: SensorConfig = field(default_factory=SensorConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    feedback: dict[str, Any] = field(default_factory=dict)
    path: str = "<defaults>"

    @property
    def outbox_path(self) -> Path:
        return Path(self.state_dir or default_state_dir()) / "outbox.sqlite3"


def _device_name(value: object) -> str | None:
    try:
        check_device(value)  # type: ignore[arg-type]
    except PayloadError as exc:
        return str(exc)
    return None


def _recording_given(sensor: object) -> tuple[str, str] | None:
    if sensor.get("source") == "recording" and not sensor.get("recording"):  # type: ignore[union-attr]
        return "recording", 'is needed when source = "recording"'
    return None


def _path(doc: str) -> Field:
    return string(doc, max_len=4096)


SCHEMA = table("the service config", optional({
    "device": string("device name in the MQTT topics", max_len=64, checks=(_device_name,)),
    "stage": integer("rehab stage 1-4 (stages.toml)", 1, 99),
    "stages_file": _path("protocol data file (default: the packaged stages.toml)"),
    "calibration": _path("calibration file from `heelraise calibrate`"),
    "insertional": boolean("pain at the heel bone: no heel drops early on"),
    "involved_side": string("the side with the tendinopathy (the heel-rise test's "
                            "symmetry is involved / uninvolved)", choices=("left", "right")),
    "body_mass_kg": number("body mass, for the heel-rise test's work", 20, 400),
    "state_dir": _path("where the outbox lives"),
    "sensor": table("[sensor]", optional({
        "source": string("sample source", choices=SOURCES),
        "bus": integer("I2C bus number (/dev/i2c-N)", 0, 255),
        "address": integer("I2C address of the IMU", 0x03, 0x77),
        "chip": string("IMU chip, or auto", max_len=16),
        "rate_hz": number("sample rate", 10, 1000),
        "recording": _path("recording to play (source = recording)"),
        "speed": number("replay speed for recordings and the simulator", 0.01, 1e6),
        "seed": integer("simulated session", 0, 2 ** 31 - 1),
        "simulated_stage": integer("the simulator plays this stage", 1, 99),
    }), checks=(_recording_given,)),
    "broker": table("[broker]", optional({
        "host": string("MQTT broker host", max_len=253),
        "port": integer("MQTT broker port", 1, 65535),
        "username": string("MQTT login", max_len=64),
        "password": string("MQTT password (prefer password_file)", max_len=256),
        "password_file": _path("file holding the MQTT password"),
        "ca_certs": _path("CA certificates for TLS"),
        "certfile": _path("client certificate for TLS"),
        "keyfile": _path("client key for TLS"),
        "start_local": string("start a private broker when none listens locally",
                              choices=("auto", "never")),
        "confirm": string("whose word lets a set leave the outbox: the training log's "
                          "receipt, the broker's PUBACK, or auto (the log's once one has "
                          "been seen)", choices=("auto", "log", "broker")),
    })),
    "feedback": FEEDBACK,
}))
"""Every key of the config file; each is optional (the defaults run the simulated demo)."""


def _fill(target: Any, raw: dict) -> None:
    """Copy checked values onto a dataclass (numbers become floats where the default is)."""
    for key, value in raw.items():
        setattr(target, key, float(value) if isinstance(getattr(target, key), float) else value)


def load_config(path: str | Path | None = None) -> ServiceConfig:
    """Read and validate the config; defaults alone when ``path`` is None."""
    config = ServiceConfig()
    if path is None:
        return config
    _, raw = load_toml(path, SCHEMA, error=ConfigError)
    config.path = str(path)
    _fill(config.sensor, raw.pop("sensor", {}))
    _fill(config.broker, raw.pop("broker", {}))
    _fill(config, raw)
    return config


def validate(config: ServiceConfig) -> None:
    """Hold the config to :data:`SCHEMA` again, with the command line's values on top."""
    def given(obj: Any, fields: dict) -> dict:
        return {k: getattr(obj, k) for k in fields if getattr(obj, k) is not None}

    fields = SCHEMA.fields
    data = given(config, fields) | {
        "sensor": given(config.sensor, fields["sensor"].fields),
        "broker": given(config.broker, fields["broker"].fields)}
    checked(config.path, data, SCHEMA, ConfigError)
