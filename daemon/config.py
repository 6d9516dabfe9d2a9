"""Typed configuration: every default lives here or in a detector's own ``Settings`` class.

The file is TOML. Each detector's settings sit under ``[detectors.<name>]`` and are
validated by that detector's settings model, so a third-party detector gets the same
checking as a built-in one.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from shadowlens.daemon.paths import AppPaths, app_paths, pictures_dir


class ConfigError(Exception):
    """A problem in the user's config, phrased as ``file: key: problem``."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FolderSettings(_Section):
    """One watched folder. In the file, a plain string is a folder with default settings."""

    path: Path
    # Watch by polling instead of inotify; None decides from the mount (network and FUSE poll).
    poll: bool | None = None
    # A twin folder the daemon fills with safe copies (see `shadowlens scrub`) of new photos.
    safe_copies: Path | None = None

    @field_validator("path", "safe_copies", mode="after")
    @classmethod
    def _expand(cls, path: Path | None) -> Path | None:
        return None if path is None else Path(os.path.expandvars(str(path))).expanduser()


class LibrarySettings(_Section):
    folders: list[FolderSettings] = Field(default_factory=lambda: [FolderSettings(path=pictures_dir())])
    # Matched against the path relative to a watched folder and against the file name.
    exclude: list[str] = Field(
        default_factory=lambda: [
            "*/.thumbnails/*",
            "*/@eaDir/*",
            "*/.trash*",
            "*/.Trash-*",
            "*/.stversions/*",
        ]
    )
    # Symlinks are followed only when their target stays inside a scanned folder.
    follow_symlinks: bool = True

    @field_validator("folders", mode="before")
    @classmethod
    def _plain_paths(cls, folders: Any) -> Any:
        if isinstance(folders, list):
            return [{"path": f} if isinstance(f, (str, Path)) else f for f in folders]
        return folders

    @property
    def paths(self) -> list[Path]:
        return [folder.path for folder in self.folders]

    @property
    def exclusions(self) -> list[str]:
        """``exclude`` plus every safe-copies folder inside a watched one: the copies are not new
        photos of the user's to analyse."""
        extra = []
        for twin in (f.safe_copies for f in self.folders if f.safe_copies):
            for folder in self.paths:
                if twin.is_relative_to(folder) and twin != folder:
                    extra.append("/" + twin.relative_to(folder).as_posix() + "/*")
        return [*self.exclude, *extra]


class DecodeSettings(_Section):
    # A 200 MP phone photo (Galaxy S24 Ultra) must pass; a 4-gigapixel GIF header must not.
    max_megapixels: float = Field(default=250.0, gt=0)
    # What one worker may spend decoding one photo (pixels, conversions and the file's bytes).
    # There is one worker per core, and the unit's MemoryHigh is 2 GB.
    max_memory_mb: int = Field(default=1024, ge=64)


class ScanSettings(_Section):
    workers: int = Field(default=0, ge=0, description="0 means one worker per core")
    batch_size: int = Field(default=8, ge=1, le=256)

    def effective_workers(self) -> int:
        return self.workers or (os.cpu_count() or 1)


class WatchSettings(_Section):
    # A file that neither closes nor moves counts as complete once unchanged for this long.
    settle_seconds: float = Field(default=2.0, gt=0)
    # Full walks that catch anything the watcher missed (inotify overflow, a sleeping laptop).
    reconcile_minutes: float = Field(default=60.0, gt=0)
    poll_interval_seconds: float = Field(default=10.0, gt=0)
    # A deleted photo's analysis is kept this long, in case the file reappears (a split move).
    forget_after_seconds: float = Field(default=120.0, ge=0)
    # A job that fails this many times is parked with its error.
    max_attempts: int = Field(default=3, ge=1)
    pause_on_battery: bool = False
    # How long in-flight photos may take to finish on SIGTERM before they are put back in the queue.
    stop_timeout_seconds: float = Field(default=7.0, gt=0, le=60)
    # While catching up, without a terminal for a bar: a status line this often (checked each second).
    progress_seconds: float = Field(default=30.0, gt=0)
    # The worker processes (hundreds of MB each, with their models) stop after this long without
    # a job and start again with the next one, which then waits a few seconds for them. 240 s
    # leaves a minute for the last photo's own analysis, so that 5 minutes after the last photo
    # only the daemon remains; a photo every few minutes still finds the workers running.
    pool_idle_seconds: float = Field(default=240.0, gt=0)


class IndexSettings(_Section):
    path: Path | None = None


class ClusterSettings(_Section):
    """Analysis workers on other machines (daemon/cluster/): off unless ``listen`` is set."""

    # host:port of the Dask scheduler the daemon runs, e.g. "0.0.0.0:8786"; None: no cluster.
    listen: str | None = None
    # Port of the one-time enrolment service, on the same host as ``listen``.
    enrol_port: int = Field(default=8788, ge=1, le=65535)
    # The photo library's path on the daemon's machine -> the same folder on the workers (an NFS
    # or SMB mount elsewhere), longest prefix first.
    path_map: dict[str, str] = Field(default_factory=dict)
    # A one-time enrolment token is valid this long after `shadowlens cluster token`.
    token_minutes: float = Field(default=30.0, gt=0)
    # Whether the daemon's own pool also analyses new photos while helpers are joined. Off, a
    # small NAS leaves the work to them, and takes it back when the last one leaves.
    local_pool_while_joined: bool = True

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, like 0.0.0.0:8786, not {value!r}")
        return value


class ModelsSettings(_Section):
    # A model unused this long is unloaded, so that the idle daemon stays small.
    ttl_seconds: float = Field(default=300.0, gt=0)
    # Extra folders searched (recursively, by file name) for model files before fetching them.
    search_paths: list[Path] = Field(default_factory=list)

    @field_validator("search_paths", mode="after")
    @classmethod
    def _expand(cls, paths: list[Path]) -> list[Path]:
        return [Path(os.path.expandvars(str(p))).expanduser() for p in paths]


class ProfileSettings(_Section):
    # Places: photos within this distance of each other form a place (haversine DBSCAN).
    place_radius_m: float = Field(default=150.0, gt=0)
    place_min_photos: int = Field(default=3, ge=2)
    trip_min_km: float = Field(default=100.0, gt=0)
    # A place's label is a habit, counted in distinct days, not photos (one afternoon's walk is a
    # visit): home needs nights or weekend days, work weekdays in office hours, each in several
    # ISO weeks; every label also needs separate visits (a week in one hotel is one visit).
    home_min_days: int = Field(default=3, ge=1)
    home_min_weeks: int = Field(default=2, ge=1)
    work_min_days: int = Field(default=3, ge=1)
    work_min_weeks: int = Field(default=2, ge=1)
    frequent_min_days: int = Field(default=3, ge=1)
    place_min_visits: int = Field(default=2, ge=1)
    # Old evidence counts for less: a day this old counts for half. A home or workplace whose
    # weighed days fall under half of those it needs is said in the past ("You lived in ...").
    place_half_life_days: float = Field(default=365.0, gt=0)
    # "You have been to N countries": said from this many countries on, with or without a home.
    travel_min_countries: int = Field(default=2, ge=1)
    # Habit statements (devices, daily rhythm, who you are with, where you go out) count distinct
    # days: nothing is said below habit_min_days or under habit_min_confidence, and confidence
    # reaches 0.9 at habit_full_days.
    habit_min_days: int = Field(default=3, ge=1)
    habit_full_days: int = Field(default=10, ge=1)
    habit_min_confidence: float = Field(default=0.5, ge=0, le=1)
    # How often the daemon refreshes the profile after new photos (it only rebuilds when
    # something changed), and when it re-clusters all faces from scratch (local time, "HH:MM").
    refresh_minutes: float = Field(default=2.0, gt=0)
    recluster_at: str = Field(default="03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # The weekly digest ("what your photos revealed this week"): ISO weekday (1 = Monday) and time.
    digest_weekday: int = Field(default=7, ge=1, le=7)
    digest_at: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # The marketing segment rules (see daemon/data/segments.toml, the default): a file of your own
    # can add segments, including ones on the facts of a third-party detector.
    segments_file: Path | None = None

    @field_validator("home_min_weeks", "work_min_weeks", mode="after")
    @classmethod
    def _weeks_within_days(cls, weeks: int, info: ValidationInfo) -> int:
        days_key = str(info.field_name).replace("weeks", "days")
        days = info.data.get(days_key)
        if isinstance(days, int) and weeks > days:
            raise ValueError(f"must be at most {days_key} ({days}): each week needs one of those days")
        return weeks

    @field_validator("segments_file", mode="after")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        path = Path(os.path.expandvars(str(path))).expanduser()
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path


class ExposurePoints(_Section):
    """Points per reason of the 0-100 exposure score (capped at 100). README lists them.

    The fields are the built-in reasons, in the order reasons are listed. Any other key sets the
    points of a reason a third-party detector raises (its code), over the detector's default.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    # The other keys: checked like the fields (a whole number of points from 0 to 100).
    __pydantic_extra__: dict[str, Annotated[int, Field(ge=0, le=100, strict=True)]] = Field(init=False)

    gps: int = Field(default=15, ge=0, le=100)
    gps_near_home: int = Field(default=25, ge=0, le=100, description="added to gps within 200 m of home")
    written_place: int = Field(
        default=5, ge=0, le=100, description="a city or place typed into the file (IPTC, XMP), no GPS"
    )
    child: int = Field(default=30, ge=0, le=100)
    possible_child: int = Field(
        default=20, ge=0, le=100, description="a face whose age interval reaches under 13"
    )
    other_people: int = Field(default=10, ge=0, le=100)
    identity_document: int = Field(
        default=40, ge=0, le=100, description="ID, passport MRZ, card, boarding pass"
    )
    document: int = Field(default=15, ge=0, le=100)
    personal_data: int = Field(default=25, ge=0, le=100)
    # What text says about a person (daemon/detectors/text/personal.py): a name identifies someone
    # outright; a labelled place, date or sex adds to what the rest of the photo tells.
    person_name: int = Field(default=20, ge=0, le=100, description="a person's name in the text")
    place_name: int = Field(default=5, ge=0, le=100, description="a birthplace, home town, address city")
    labelled_date: int = Field(default=5, ge=0, le=100, description="a visit, exam, issue or expiry date")
    sex: int = Field(default=10, ge=0, le=100, description="a sex or gender field")
    nudity: int = Field(default=40, ge=0, le=100)
    brands: int = Field(default=5, ge=0, le=100)
    screenshot: int = Field(default=10, ge=0, le=100)

    def of(self, code: str, default: int) -> int:
        """The configured points of reason ``code``, or ``default`` (the detector's) if none."""
        if code in type(self).model_fields:
            return int(getattr(self, code))
        value = (self.model_extra or {}).get(code)
        return value if isinstance(value, int) else default


class AlertSettings(_Section):
    threshold: int = Field(default=60, ge=0, le=100)
    desktop: bool = True
    # A burst (a sync dump) becomes one summary: it ends after this long without a new alert...
    quiet_seconds: float = Field(default=5.0, gt=0)
    # ...or this long after its first alert, whichever comes first.
    max_wait_seconds: float = Field(default=60.0, gt=0)
    # Receives each notification as JSON on stdin (masked values only), e.g. "notify-send-wrapper".
    hook: str | None = None
    hook_timeout_seconds: float = Field(default=10.0, gt=0)
    points: ExposurePoints = Field(default_factory=ExposurePoints)


class ScrubSettings(_Section):
    """``shadowlens scrub``: how safe copies are written."""

    # HEIC in: a JPEG copy opens everywhere; "heic" keeps the format (and its smaller size).
    heic_output: Literal["jpeg", "heic"] = "jpeg"
    jpeg_quality: int = Field(default=92, ge=50, le=100)
    # Pixelation covers the face box grown by this fraction of its size on every side (hair, ears).
    face_margin: float = Field(default=0.25, ge=0, le=2)
    # Pixelation strength: one block is this fraction of the face box's shorter side. 1/8 leaves
    # too little to recognise, but YuNet still finds a face shape in 8 blocks and fails the copy's
    # verification, so the default is 1/5. Lower values are weaker (a face the detectors still
    # find fails the copy); tests lower it on purpose.
    face_block_fraction: float = Field(default=0.2, gt=0, le=1)
    blur: Literal["faces", "others", "children", "none"] = "others"
    # pii and all-pii: every type of personal data; names, places, dates: only those types
    redact: Literal["pii", "all-pii", "names", "places", "dates", "text", "none"] = "pii"


class Config(_Section):
    library: LibrarySettings = Field(default_factory=LibrarySettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    profile: ProfileSettings = Field(default_factory=ProfileSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    scrub: ScrubSettings = Field(default_factory=ScrubSettings)
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Not part of the file: where it was read from, for error messages.
    source: str = Field(default="<defaults>", exclude=True)

    def index_path(self, paths: AppPaths) -> Path:
        return self.index.path.expanduser() if self.index.path else paths.index_file


def nearest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a misspelt ``word``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_setting(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """The problem of an unknown key at ``loc`` in ``model``, with the nearest valid key of its
    section: a typo otherwise stops every command with nothing to go on."""
    section: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list of sections (library.folders)
        field = section.model_fields.get(part) if _is_model(section) else None
        section = _model_in(field.annotation) if field is not None else None
    if not _is_model(section):
        return "unknown setting"
    keys = [name for name, field in section.model_fields.items() if not field.exclude]
    return "unknown setting" + nearest(str(loc[-1]), keys)


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    # The section model inside an annotation such as list[FolderSettings] or X | None.
    if _is_model(annotation):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


def _describe(error: Any) -> tuple[str, str]:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return key, unknown_setting(Config, error["loc"])
    return key, str(error["msg"])


def parse_config(data: dict[str, Any], source: str) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        key, problem = _describe(exc.errors()[0])
        raise ConfigError(source, key, problem) from None
    config.source = source
    return config


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (or the user's config file if it exists); defaults otherwise."""
    explicit = path is not None
    file = path or app_paths().config_file
    if not file.exists():
        if explicit:
            raise ConfigError(file, "", "file not found")
        return parse_config({}, "<defaults>")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "", f"cannot read: {exc}") from None
    return parse_config(data, str(file))


def default_config_text() -> str:
    return (Path(__file__).with_name("default_config.toml")).read_text(encoding="utf-8")
