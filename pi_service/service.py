"""``heelraise run``: sensor → pipeline → LED and MQTT, all day, under systemd.

The loop is deliberately plain: one thread owns the pipeline and feeds it each
block the source yields, then hands the events to the feedback sink, the
publisher and the console. MQTT commands arrive on paho's thread and are queued
for the loop, so the pipeline never sees two threads. Wall-clock time enters
only here, to stamp payloads; the pipeline lives on the sensor's clock.
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import time
from contextlib import ExitStack
from typing import Any

from .broker import LocalBroker, port_open
from .builders import new_id
from .config import ServiceConfig, load_config, validate
from .console import LiveConsole
from .errors import ConfigError, HeelRaiseError, SensorError
from .notify import sd_notify, watchdog_interval_s
from .pipeline import Pipeline, SampleError
from .pipeline.events import Event, Hold, PhaseChange, Rep, SetSummary
from .protocol import Stage
from .stages import load_stage

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def config_from_args(args: argparse.Namespace) -> ServiceConfig:
    """The config file, with command-line values on top."""
    config = load_config(args.config)
    given = {name: value for name, value in vars(args).items() if value is not None}
    overrides = [
        (config, "device"), (config, "stage"), (config, "state_dir"),
        (config.sensor, "source"), (config.sensor, "recording"), (config.sensor, "speed"),
        (config.sensor, "seed"), (config.broker, "host"), (config.broker, "port"),
    ]
    for target, key in overrides:
        if key in given:
            setattr(target, key, given[key])
    if "recording" in given and "source" not in given:
        config.sensor.source = "recording"
    if given.get("no_mqtt"):
        config.broker.enabled = False
    validate(config)
    return config


def open_source(config: ServiceConfig) -> tuple[Any, str]:
    """The configured sample source and its name.

    A wired sensor configured as ``source = "i2c"`` that is absent (no bus, no chip) is
    waited for and reported lost; only ``"auto"`` falls back to the simulator, and then
    every status, rep and set says ``"source": "simulator"``.
    """
    sensor = config.sensor
    if sensor.source == "wireless":
        from .sources.wireless.source import WirelessSource

        username, password = broker_login(config)
        return WirelessSource(config.device, config.broker.host, config.broker.port,
                              username=username, password=password,
                              tls=tls_options(config)), WirelessSource.kind
    if sensor.source in ("auto", "i2c"):
        from .sources.i2c import I2CSource

        def wired() -> I2CSource:
            try:
                return I2CSource(bus=sensor.bus, address=sensor.address, chip=sensor.chip,
                                 rate_hz=sensor.rate_hz, wait=sensor.source == "i2c")
            except ValueError as exc:    # a chip, rate or range the drivers do not have
                raise ConfigError(config.path, f"[sensor]: {exc}") from None

        if sensor.source == "i2c":
            from .sources.awaited import AwaitedSource

            source = AwaitedSource(wired)
            return source, source.kind
        try:
            source = wired()
            return source, source.kind
        except (SensorError, OSError) as exc:
            log.warning("no IMU on I2C bus %d (%s); using the SIMULATED sensor: its sets "
                        "are marked simulated and kept out of the training history",
                        sensor.bus, exc)
    if sensor.source == "recording":
        from .sources.recording import RecordingSource

        return RecordingSource(sensor.recording, speed=sensor.speed), "recording"
    from .sources.simulator import SimulatedSource

    stage = sensor.simulated_stage or config.stage
    return SimulatedSource(stage, sensor.seed, rate_hz=sensor.rate_hz, speed=sensor.speed), \
        "simulator"


def ensure_broker(config: ServiceConfig, stack: ExitStack) -> None:
    """Start a private broker when the configured one is local and absent."""
    b = config.broker
    if not b.enabled or b.start_local != "auto" or b.host not in _LOOPBACK:
        return
    if port_open(b.host, b.port):
        return
    log.info("no broker on %s:%d; starting a local one", b.host, b.port)
    stack.enter_context(LocalBroker(port=b.port))


class Service:
    """Owns the pipeline; turns each block into feedback, MQTT messages and console lines."""

    def __init__(self, config: ServiceConfig, stage: Stage, feedback: Any,
                 publisher: Any | None, console: LiveConsole | None, source_name: str) -> None:
        self.config = config
        self.stage = stage
        self.feedback = feedback
        self.publisher = publisher
        self.console = console
        self.source_name = source_name
        self.hold_stage = load_stage(1, config.stages_file)   # a long hold is judged as stage 1's
        self.calibration = None
        if config.calibration:
            from calibration.file import load_calibration

            self.calibration = load_calibration(config.calibration)
        self.pipeline = self._new_pipeline()
        self._state = self.pipeline.state
        self.commands: queue.Queue = queue.Queue()
        self.running = True           # exercising (cmd start/stop)
        self.stopping = False         # shutting down (SIGTERM)
        self.pain: int | None = None
        self.sensor = "ok"            # "ok" or "lost", as the status topic says
        self._watchdog_s = watchdog_interval_s()
        self._last_ping = 0.0

    def _new_pipeline(self) -> Pipeline:
        """A pipeline for the current stage that keeps what calibration we have learnt."""
        known = getattr(self, "pipeline", None)
        learnt = known.calibration if known is not None else None
        return Pipeline(self.stage, learnt or self.calibration, hold_stage=self.hold_stage)

    def _feed(self, block: Any) -> list[Event]:
        """Feed the pipeline; say so when it starts or stops waiting to calibrate.

        The pipeline itself waits for the first still standing (a person may be
        walking to the step when the service starts) and for a raise that shows which
        way is up; the status topic carries what it is doing.
        """
        try:
            events = self.pipeline.feed(block)
        except SampleError as exc:
            # a source whose clock stepped back: start afresh rather than stop the coach
            log.warning("%s; starting the pipeline afresh", exc)
            self._close_session()
            self.pipeline = self._new_pipeline()
            return []
        state = self.pipeline.state
        if state != self._state:
            self._state = state
            log.info({"calibrating": "waiting for a second of standing still to calibrate",
                      "learning": "calibrated; the first raise will show which way is up",
                      "ready": "calibrated and ready"}[state])
            self._status()
        return events

    # -- commands (queued from paho's thread, applied in the loop) ----------------
    def command(self, cmd: Any) -> None:
        self.commands.put(cmd)

    def _apply_commands(self) -> None:
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return
            if cmd.name == "stage":
                try:
                    stage = load_stage(int(cmd.value), self.config.stages_file)
                except HeelRaiseError as exc:
                    log.warning("ignored stage command: %s", exc)
                    continue
                self._close_session()
                self.stage = stage
                self.pipeline = self._new_pipeline()
                self.feedback.set_stage(stage)
                if self.console:
                    self.console.stage = stage
                log.info("stage changed to %d (%s)", stage.number, stage.name)
            elif cmd.name == "pain":
                self.pain = int(cmd.value)
            elif cmd.name == "stop" and self.running:
                self._close_session()
                self.running = False
            elif cmd.name == "start" and not self.running:
                self.pipeline = self._new_pipeline()
                self.running = True
            self._status()

    # -- events -------------------------------------------------------------------
    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            self.feedback.on_event(event)
            if self.console:
                self.console.on_event(event)
            if self.publisher is None:
                continue
            if isinstance(event, PhaseChange):
                self.publisher.publish_phase(event)
            elif isinstance(event, Rep):
                self.publisher.publish_rep(event, self.stage)
            elif isinstance(event, Hold):
                self.publisher.publish_hold(event)
            elif isinstance(event, SetSummary):
                self.publisher.publish_set(event, self.stage, pain=self.pain)
                self.pain = None

    def _close_session(self) -> None:
        """Close the open rep and set, so nothing done is lost."""
        self._dispatch(self.pipeline.finish())

    def _status(self) -> None:
        if self.publisher is not None:
            self.publisher.publish_status(sensor=self.sensor, source=self.source_name,
                                          stage=self.stage.number, running=self.running,
                                          calibration=self.pipeline.state)

    def _ping(self) -> None:
        if self._watchdog_s is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self._watchdog_s:
            sd_notify("WATCHDOG=1")
            self._last_ping = now

    def run(self, source: Any) -> None:
        self._status()
        sd_notify("READY=1")
        for block in source:
            self._ping()
            self._apply_commands()
            if self.stopping:
                break
            connected = getattr(source, "connected", True)
            if connected != (self.sensor == "ok"):
                self.sensor = "ok" if connected else "lost"
                self.source_name = getattr(source, "kind", self.source_name)
                if connected:
                    self.feedback.sensor_back()
                else:
                    self.feedback.sensor_lost()
                self._status()
            if not len(block) or not self.running:
                continue
            self._dispatch(self._feed(block))
            self.feedback.on_time(float(block.t[-1]))
        sd_notify("STOPPING=1")
        self._close_session()


def run_service(args: argparse.Namespace) -> int:
    """``heelraise run``: the config and command line, then :func:`serve`."""
    config = config_from_args(args)
    stage = load_stage(config.stage, config.stages_file)
    serve(config, None if args.quiet else LiveConsole(stage))
    return 0


def serve(config: ServiceConfig, console: LiveConsole | None, *,
          source: tuple[Any, str] | None = None, feedback: Any = None,
          confirm_s: float = 0.0) -> list[int]:
    """Run the coach until SIGTERM, SIGHUP or SIGINT, or the source ends: source ->
    pipeline -> LED, MQTT, console. Returns the signals that stopped it (none: the source
    ended, as a recording or a simulated session does).

    ``source`` and ``feedback`` may come ready-made (``heelraise start`` opens the source
    first, to know whether a person or the simulator is on it, and may light a terminal
    LED); they are closed here either way. ``confirm_s``: how long to wait at the end for
    the training log's receipt of the last sets (its own log, in ``heelraise start``).
    """
    stage = load_stage(config.stage, config.stages_file)
    from .feedback import FeedbackConfig, open_feedback

    service: Service | None = None
    stop_asked: list[int] = []

    def stop(signum: int, frame: object) -> None:
        log.info("signal %d: closing the open set and flushing", signum)
        stop_asked.append(signum)
        if service is not None:
            service.stopping = True

    # systemd stops with SIGTERM; a closed terminal sends SIGHUP: both save the open set.
    # Set before anything starts, so a signal during start-up also stops cleanly.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    with ExitStack() as stack:
        if source is None:
            ensure_broker(config, stack)
            source = open_source(config)
        source, source_name = source
        stack.callback(source.close)
        if feedback is None:
            feedback = open_feedback(FeedbackConfig.from_dict(config.feedback, config.path),
                                     stage, hold_stage=load_stage(1, config.stages_file))
        stack.callback(feedback.close)
        publisher = None
        if config.broker.enabled:
            publisher = stack.enter_context(make_publisher(
                config, source_name, stage, getattr(source, "iso_time", None)))
        service = Service(config, stage, feedback, publisher, console, source_name)
        service.stopping = bool(stop_asked)
        if publisher is not None:
            publisher.on_command(service.command)
        log.info("device %s, stage %d (%s), source %s", config.device, stage.number,
                 stage.name, source_name)
        service.run(source)
        if publisher is not None and not publisher.wait_idle(timeout_s=10):
            log.warning("broker unreachable: unsent sets stay in %s for next time",
                        config.outbox_path)
        elif publisher is not None and confirm_s > 0:
            publisher.wait_confirmed(confirm_s)
        if publisher is not None and publisher.pending:
            log.info("%d set(s) wait in %s for the training log's receipt; they go again "
                     "at the next start", publisher.pending, config.outbox_path)
    return stop_asked


def broker_login(config: ServiceConfig) -> tuple[str | None, str | None]:
    """The broker username and password, the password read from its file if there is one."""
    b = config.broker
    password = b.password
    if b.password_file:
        try:
            with open(b.password_file, encoding="utf-8") as f:
                password = f.read().strip()
        except OSError as exc:
            raise ConfigError(config.path, f"broker.password_file: cannot read "
                                           f"{b.password_file}: {exc.strerror}") from None
    return b.username, password


def tls_options(config: ServiceConfig) -> Any:
    from .publish import TLSOptions

    b = config.broker
    return TLSOptions(ca_certs=b.ca_certs, certfile=b.certfile, keyfile=b.keyfile) \
        if b.ca_certs else None


def make_publisher(config: ServiceConfig, source_name: str, stage: Stage,
                   iso_time: Any = None) -> Any:
    """The publisher; ``iso_time`` maps sensor seconds to wall time when the source knows
    better than one offset per run (the wireless clip-on's drift-corrected clock)."""
    from .publish import Publisher

    b = config.broker
    username, password = broker_login(config)
    if username is not None and username != config.device:
        log.warning("broker login %r is not the device name %r: the shipped broker ACL lets "
                    "a device publish only as itself", username, config.device)
    config.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    return Publisher(config.device, b.host, b.port, config.outbox_path,
                     username=username, password=password, tls=tls_options(config),
                     source=source_name, stage=stage.number, session=new_id()[:12],
                     confirm=b.confirm, iso_time=iso_time)

