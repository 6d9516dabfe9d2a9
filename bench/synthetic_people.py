"""Who is in the synthetic library's photos: identities, their face embeddings and persons rows.

3,000 identities with Zipf-like popularity (the owner in ~15,000 faces, the rarest in ~20) hold
90% of the faces; the other 10% are strangers seen once, left unassigned. Embeddings have the
geometry of ``rows_people`` (about 0.04 cosine apart within a person, 0.16 between persons). A
persons row per identity carries its face and photo counts, as the daemon keeps them; a few are
named by the user. Part of the synthetic index (``synthetic_index.build``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from synthetic_world import DAYS

ENGINE, DIM = "dlib-resnet-128", 128
WITHIN, BETWEEN = 0.04, 0.16  # cosine distances within one person and between two (rows_people)
ASSIGNED_SHARE = 0.9  # faces of the identities; the rest are strangers seen once
ZIPF = 0.8  # identity popularity ~ rank ** -ZIPF
MIN_FACES = 5
EXPRESSIONS = ("neutral", "surprise", "sad", "angry", "fear", "disgust")
NAMES = ("Alex", "Sam", "Léa", "Tom", "Maman", "Papa", "Julie", "Hugo")
FACES_VERSION = "1+opencv-yunet-2023mar+dlib-resnet-128+insightface-genderage+fer-mobilenet"
LANDMARKS = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))


def unit(rows: Any) -> Any:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def noise_scale() -> float:
    # Per-axis noise s puts two faces of one person d*s^2 / (1 + d*s^2) = WITHIN apart.
    return float(np.sqrt(WITHIN / (1 - WITHIN) / DIM))


@dataclass
class People:
    labels: Any  # identity per face, strangers numbered from n_identities on
    vectors: Any  # float32 unit rows, one per face
    centres: Any  # identity centres (strangers excluded)
    popularity: Any
    base_age: Any  # age of each identity (and stranger) at the first day
    female: Any
    smiles: Any  # how often each identity smiles


def people(rng: np.random.Generator, identities: int, faces: int) -> People:
    assigned = round(faces * ASSIGNED_SHARE)
    strangers = faces - assigned
    popularity = np.arange(1, identities + 1, dtype=np.float64) ** -ZIPF
    popularity /= popularity.sum()
    sizes = np.maximum(MIN_FACES, np.floor(popularity * assigned).astype(np.int64))
    sizes[0] += assigned - sizes.sum()  # the owner takes the rounding
    common = unit(rng.standard_normal(DIM))
    spread_ = np.sqrt(BETWEEN / (1 - BETWEEN))
    centres = unit(common + spread_ * unit(rng.standard_normal((identities + strangers, DIM))))
    labels = np.concatenate([np.repeat(np.arange(identities), sizes), identities + np.arange(strangers)])
    noise = np.float32(noise_scale())
    vectors = unit(centres[labels] + noise * rng.standard_normal((faces, DIM), dtype=np.float32))
    everyone = identities + strangers
    base_age = rng.uniform(16, 75, everyone)
    children = rng.random(everyone) < 0.05
    base_age[children] = rng.uniform(1, 10, int(children.sum()))
    base_age[:4] = (34.0, 33.0, 6.0, 3.0)  # the owner, a partner and two children
    return People(
        labels=labels,
        vectors=vectors,
        centres=centres[:identities],
        popularity=popularity,
        base_age=base_age,
        female=rng.random(everyone) < 0.5,
        smiles=rng.uniform(0.3, 0.75, everyone),
    )


def is_child(everyone: People, identity: int) -> bool:
    return bool(everyone.base_age[identity] + DAYS / 365 / 2 < 13)  # at the middle of the two years


def persons_rows(
    truth: Any,
    face_photo: Any,
    faces: list[tuple[Any, ...]],
    findings: list[tuple[Any, ...]],
    children: frozenset[int],
    identities: int,
    stamp: str,
) -> list[tuple[Any, ...]]:
    """One persons row per identity, with the counts, child flag and cover face the daemon keeps."""
    assigned = truth >= 0
    span = int(face_photo.max()) + 1
    face_count = np.bincount(truth[assigned], minlength=identities)
    pairs = np.unique(truth[assigned] * span + face_photo[assigned])
    photo_count = np.bincount(pairs // span, minlength=identities)
    confidence = {f[0]: f[4] for f in findings if f[2] == "face"}
    cover: dict[int, tuple[float, int]] = {}
    for face_id, _photo, finding_id, *_rest, person in faces:
        if person is not None:
            best = (confidence[finding_id], face_id)
            cover[person] = max(cover.get(person, best), best)
    result = []
    for i in range(identities):
        person = i + 1
        name = NAMES[i] if i < len(NAMES) else None
        counts = (int(face_count[i]), int(photo_count[i]), cover[person][1])
        result.append((person, ENGINE, name, None, int(person in children), None, *counts, stamp, stamp))
    return result
