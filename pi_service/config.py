"""The service's TOML config: what device this is, which sensor, which broker.

Validated strictly at start-up, because a typo found at 7 am by a patient is
worth less than one found by the maker who wrote it: every fault is one line
naming the file, the line and the key. Values are overridable from the command
line, so a config file is optional (the defaults run the simulated demo).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datafile import load_toml
from .errors import ConfigError

SOURCES = ("auto", "i2c", "wireless", "simulator", "recording")
_DEVICE = re.compile(r"^[A-Za-z0-9_-]+$")


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
    enabled: bool = True


@dataclass
class ServiceConfig:
    device: str = "heelraise"
    stage: int = 2
    stages_file: str | None = None
    calibration: str | None = None
    insertional: bool = False      # pain at the heel bone: no heel drops early on
    state_dir: str | None = None
    sensor: SensorConfig = field(default_factory=SensorConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    feedback: dict[str, Any] = field(default_factory=dict)
    path: str = "<defaults>"

    @property
    def outbox_path(self) -> Path:
        return Path(self.state_dir or default_state_dir()) / "outbox.sqlite3"


def _line_of(text: str, table: str | None, key: str) -> int | None:
    """Best-effort line number of ``key`` inside ``[table]``, for error messages."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[([^\[\]]+)\]", stripped)
        if header:
            current = header.group(1).strip()
        elif current == table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _fill(target: Any, raw: dict, table: str | None, path: str, text: str) -> None:
    """Copy ``raw`` onto the dataclass ``target``, type-checking against its defaults."""
    known = type(target).__dataclass_fields__
    for key, value in raw.items():
        name = f"{table}.{key}" if table else key
        line = _line_of(text, table, key)
        if key not in known or isinstance(getattr(target, key), SensorConfig | BrokerConfig):
            raise ConfigError(path, f"unknown key '{name}'", line)
        expected = known[key].type
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
        }
        base = expected.split(" |")[0]
        if value is not None and base in ok and not ok[base]:
            raise ConfigError(path, f"'{name}' must be {base}, got {value!r}", line)
        setattr(target, key, float(value) if base == "float" else value)


def load_config(path: str | Path | None = None) -> ServiceConfig:
    """Read and validate the config; defaults alone when ``path`` is None."""
    config = ServiceConfig()
    if path is None:
        return config
    _, text, raw = load_toml(path, error=ConfigError)
    path = config.path = str(path)
    sensor = raw.pop("sensor", {})
    broker = raw.pop("broker", {})
    config.feedback = raw.pop("feedback", {})
    _fill(config, raw, None, path, text)
    _fill(config.sensor, sensor, "sensor", path, text)
    _fill(config.broker, broker, "broker", path, text)
    validate(config, text)
    return config


def validate(config: ServiceConfig, text: str = "") -> None:
    """Range checks that hold whether a value came from the file or the command line."""
    path = config.path

    def fail(table: str | None, key: str, fault: str) -> None:
        name = f"{table}.{key}" if table else key
        raise ConfigError(path, f"'{name}' {fault}", _line_of(text, table, key))

    if not _DEVICE.match(config.device):
        fail(None, "device", f"must be letters, digits, '-' or '_', got {config.device!r}")
    if config.sensor.source not in SOURCES:
        fail("sensor", "source", f"must be one of {', '.join(SOURCES)}")
    if not 10 <= config.sensor.rate_hz <= 1000:
        fail("sensor", "rate_hz", f"must be 10..1000 Hz, got {config.sensor.rate_hz}")
    if config.sensor.speed <= 0:
        fail("sensor", "speed", "must be > 0")
    if config.sensor.source == "recording" and not config.sensor.recording:
        fail("sensor", "recording", "is needed when source = \"recording\"")
    if not 0 < config.broker.port < 65536:
        fail("broker", "port", f"must be 1..65535, got {config.broker.port}")
    if config.broker.start_local not in ("auto", "never"):
        fail("broker", "start_local", "must be \"auto\" or \"never\"")
