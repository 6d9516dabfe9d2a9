"""The rules that map ImageNet classes to the interest categories a marketer sells.

daemon/data/labels.toml (or ``[detectors.labels] rules_file``) names, per rule, a category, the
classes that count for it, the probability a class must reach and a priority, as PhotoPrism's
label rules do. This module reads and checks the file, and turns a photo's class probabilities
into the categories that fire.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.manifest import DEFAULT_MANIFEST

RULES = Path(__file__).resolve().parents[2] / "data" / "labels.toml"
CLASSES_FILE = "imagenet_classes.txt"
_CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_KEYS = frozenset({"category", "classes", "indices", "threshold", "priority"})


@dataclass(frozen=True)
class LabelRule:
    name: str
    category: str
    threshold: float
    priority: int


@dataclass(frozen=True)
class LabelRules:
    categories: dict[str, str]  # id -> title
    by_class: dict[int, LabelRule]  # ImageNet index -> the rule it counts for


class RulesError(ValueError):
    """The rules file is malformed; the one-line message names the file and the rule."""


def read_classes(path: Path) -> tuple[str, ...]:
    """ImageNet class names in output order: one per line, '#' lines are comments."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the class names: {exc}") from None
    names = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not names:
        raise RulesError(f"{path}: no class names")
    return names


@cache
def imagenet_classes() -> tuple[str, ...]:
    return read_classes(DEFAULT_MANIFEST.with_name(CLASSES_FILE))


def _rule(
    where: str, name: str, raw: object, categories: dict[str, str], names: Sequence[str]
) -> tuple[LabelRule, set[int]]:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: must be a table")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RulesError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_RULE_KEYS))}")
    category = raw.get("category")
    if category not in categories:
        raise RulesError(
            f"{where}: unknown category {category!r}; listed under [categories]: {', '.join(categories)}"
        )
    threshold, priority = raw.get("threshold"), raw.get("priority")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise RulesError(f"{where}: threshold must be a probability above 0 and at most 1, not {threshold!r}")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise RulesError(f"{where}: priority must be a whole number, not {priority!r}")
    indices: set[int] = set()
    listed = raw.get("classes", [])
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise RulesError(f"{where}: classes must be a list of ImageNet class names")
    for wanted in listed:
        found = {i for i, n in enumerate(names) if n == wanted}
        if not found:
            raise RulesError(f"{where}: unknown ImageNet class {wanted!r} (see models/{CLASSES_FILE})")
        indices |= found
    for span in raw.get("indices", []):
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span)):
            raise RulesError(f"{where}: indices must be [first, last] pairs, not {span!r}")
        first, last = span
        if not 0 <= first <= last < len(names):
            raise RulesError(f"{where}: index range {span} is outside 0-{len(names) - 1}")
        indices |= set(range(first, last + 1))
    if not indices:
        raise RulesError(f"{where}: names no classes")
    return LabelRule(name, str(category), float(threshold), priority), indices


def load_rules(path: Path | None = None, names: Sequence[str] | None = None) -> LabelRules:
    """Read and check the rules (default: daemon/data/labels.toml); RulesError names what is wrong."""
    file = path or RULES
    names = names if names is not None else imagenet_classes()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{file}: cannot read the label rules: {exc}") from None
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise RulesError(f'{file}: needs a [categories] table of id = "title"')
    for category, title in categories.items():
        if not _CATEGORY_ID.match(category) or not isinstance(title, str) or not title:
            raise RulesError(f"{file}: categories.{category}: needs a snake_case id and a title")
    rules = data.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise RulesError(f"{file}: no [rules.<name>] tables")
    by_class: dict[int, LabelRule] = {}
    for name, raw in rules.items():
        rule, indices = _rule(f"{file}: rules.{name}", name, raw, categories, names)
        for index in indices:
            other = by_class.get(index)
            if other is not None and other.priority == rule.priority and other.category != rule.category:
                raise RulesError(
                    f"{file}: rules.{name}: class {names[index]!r} is also in rules.{other.name} "
                    "with the same priority; give one of them a higher priority"
                )
            if other is None or rule.priority > other.priority:
                by_class[index] = rule
    return LabelRules(dict(categories), by_class)


def categorise(
    probabilities: NDArray[np.float32],
    names: Sequence[str],
    rules: LabelRules,
    top_k: int,
    min_confidence: float,
) -> list[tuple[str, float, dict[str, float]]]:
    """(category, confidence, its classes) for each category the photo's top classes fire,
    highest priority first."""
    top = np.argsort(-probabilities, kind="stable")[:top_k]
    grouped: dict[str, list[tuple[int, float, LabelRule]]] = {}
    for index in top.tolist():
        rule = rules.by_class.get(index)
        if rule is not None:
            grouped.setdefault(rule.category, []).append((index, float(probabilities[index]), rule))
    found = []
    for category, hits in grouped.items():
        confidence = sum(p for _, p, _ in hits)
        if confidence >= min_confidence and any(p >= rule.threshold for _, p, rule in hits):
            priority = max(rule.priority for _, _, rule in hits)
            found.append((priority, category, confidence, {names[i]: round(p, 4) for i, p, _ in hits}))
    found.sort(key=lambda item: (-item[0], -item[2]))
    return [(category, confidence, classes) for _, category, confidence, classes in found]
