"""Find detectors through the ``shadowlens.detectors`` entry-point group and configure them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from pydantic import ValidationError
from shadowlens.daemon.analysis.detector import Detector, DetectorSettings
from shadowlens.daemon.config import Config, ConfigError, nearest, unknown_setting

GROUP = "shadowlens.detectors"


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    cls: type[Detector] | None
    origin: str
    load_error: str | None = None


def discover() -> dict[str, DetectorInfo]:
    """Every installed detector; one that fails to import is reported, not fatal."""
    found: dict[str, DetectorInfo] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Detector)):
                raise TypeError(f"{ep.value} is not a Detector subclass")
            found[ep.name] = DetectorInfo(ep.name, cls, ep.value)
        except Exception as exc:
            found[ep.name] = DetectorInfo(ep.name, None, ep.value, f"{type(exc).__name__}: {exc}")
    return found


def detector_settings(config: Config, available: dict[str, DetectorInfo]) -> dict[str, DetectorSettings]:
    """Validate each ``[detectors.<name>]`` section with that detector's own settings model."""
    unknown = sorted(set(config.detectors) - set(available))
    if unknown:
        names = ", ".join(sorted(available)) or "none"
        hint = nearest(unknown[0], sorted(available))
        raise ConfigError(
            config.source, f"detectors.{unknown[0]}", f"unknown detector{hint}; installed: {names}"
        )
    settings: dict[str, DetectorSettings] = {}
    for name, info in available.items():
        if info.cls is None:
            continue
        try:
            settings[name] = info.cls.Settings.model_validate(config.detectors.get(name, {}))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(["detectors", name, *(str(p) for p in error["loc"])])
            if error["type"] == "extra_forbidden":
                problem = unknown_setting(info.cls.Settings, error["loc"])
            else:
                problem = str(error["msg"])
            raise ConfigError(config.source, key, problem) from None
    return settings


def ordered(detectors: list[Detector]) -> list[Detector]:
    """Detectors sorted so that each runs after the ones it reads from (``after``)."""
    by_name = {d.name: d for d in detectors}
    result: list[Detector] = []
    visiting: set[str] = set()

    def visit(detector: Detector) -> None:
        if detector in result:
            return
        if detector.name in visiting:
            raise ValueError(f"detector dependency cycle through {detector.name!r}")
        visiting.add(detector.name)
        for dep in detector.after:
            if dep in by_name:
                visit(by_name[dep])
        visiting.discard(detector.name)
        result.append(detector)

    for detector in sorted(detectors, key=lambda d: d.name):
        visit(detector)
    return result


def build_detectors(config: Config) -> list[Detector]:
    available = discover()
    settings = detector_settings(config, available)
    for name, info in available.items():
        if info.cls is not None and settings[name].enabled:
            info.cls.configure(config)
    active = [
        info.cls(settings[name])
        for name, info in available.items()
        if info.cls is not None and settings[name].enabled
    ]
    return ordered(active)
