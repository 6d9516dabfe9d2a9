"""Faces found by other detectors, described in the frame the HOG-calibrated models expect.

The geometry is checked on constructed landmarks, the frame's worth on real faces: the corpus's
photos whose faces both HOG and libfacedetection's YuNet find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.api import PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.daemon.detectors.faces.dlib_frame import HOG_FRAME, framed_for, in_hog_frame
from shadowlens.daemon.detectors.faces.finders import face_iou
from shadowlens.daemon.detectors.faces.types import RawFace
from shadowlens.models.registry import Registry

from tests.conftest import BUILT_MODELS, corpus_or_skip

# A frontal face: eyes 40 px apart at y 100, mouth corners at y 150.
MARKS = np.array([[80, 100], [120, 100], [100, 125], [85, 150], [115, 150]], dtype=np.float32)


def test_a_hog_face_and_a_face_without_landmarks_keep_their_box() -> None:
    hog = RawFace(10, 20, 90, 90, 1.2, MARKS, HOG_FRAME)
    bare = RawFace(10, 20, 60, 80, 0.9, None, "yunet")
    assert in_hog_frame(hog) is hog
    assert in_hog_frame(bare) is bare


def test_the_frame_is_a_square_between_eyes_and_mouth_and_follows_the_face() -> None:
    tall = RawFace(70, 60, 60, 120, 0.9, MARKS, "yunet")
    framed = in_hog_frame(tall)
    assert framed.frame == HOG_FRAME and framed.w == framed.h
    centre = (framed.x + framed.w / 2, framed.y + framed.h / 2)
    assert centre[0] == pytest.approx(100)
    assert 100 < centre[1] < 150  # between the eyes and the mouth
    assert 40 < framed.w < 50 * 3  # wider than the eyes, not the whole detector box scaled up
    assert framed.landmarks is tall.landmarks and framed.score == tall.score
    # The same face twice as large and moved: the frame scales and moves with it.
    bigger = in_hog_frame(RawFace(0, 0, 1, 1, 0.9, MARKS * 2 + 30, "yunet"))
    assert bigger.w == pytest.approx(framed.w * 2, rel=1e-5)
    assert bigger.x == pytest.approx(framed.x * 2 + 30, abs=1e-3)


def test_degenerate_landmarks_keep_the_detectors_box() -> None:
    face = RawFace(5, 5, 30, 30, 0.9, np.zeros((5, 2), np.float32), "yunet")
    assert in_hog_frame(face) is face


class _HogCalibrated:
    box_frame = HOG_FRAME


class _Native:
    pass


def test_only_models_calibrated_on_hog_see_the_frame() -> None:
    face = RawFace(70, 60, 60, 120, 0.9, MARKS, "yunet")
    assert framed_for(_Native(), [face]) == [face]
    assert framed_for(_HogCalibrated(), [face])[0].frame == HOG_FRAME


@pytest.mark.corpus
def test_on_real_faces_the_frame_is_closer_to_hogs_box_than_yunets_own() -> None:
    pytest.importorskip("yuface", reason="yuface has no wheel for this Python")
    corpus = corpus_or_skip()
    registry = Registry(BUILT_MODELS)
    hog = FacesDetector(FacesSettings(embedder="off", agesex="off", expression="off"), registry=registry)
    yunet = FacesDetector(
        FacesSettings(detector="libfacedetection-yuface", embedder="off", agesex="off", expression="off"),
        registry=registry,
    )
    hog_model, yunet_model = hog.roles["detector"].model, yunet.roles["detector"].model
    raw_ious, framed_ious = [], []
    for name in ("face_recognition/obama.jpg", "face_recognition/two_people.jpg", "dlib-faces/bald_guys.jpg"):
        image, _ = _decoded(corpus / name, hog).rgb(hog.options.long_side)
        found_by_hog, found_by_yunet = hog_model.detect(image), yunet_model.detect(image)
        for face in found_by_yunet:
            best = max(found_by_hog, key=lambda h: face_iou(h, face), default=None)
            if best is None or face_iou(best, face) < 0.3:
                continue
            raw_ious.append(face_iou(best, face))
            framed_ious.append(face_iou(best, in_hog_frame(face)))
    assert len(raw_ious) >= 10, "too few faces found by both to compare"
    assert np.median(framed_ious) > np.median(raw_ious) + 0.03, (np.median(raw_ious), np.median(framed_ious))


def _decoded(path: Path, detector: FacesDetector) -> PhotoContext:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    return PhotoContext(path=path, decoded=decoded)


def test_describing_in_hogs_frame_is_part_of_the_stages_version(tmp_path: Path) -> None:
    pytest.importorskip("yuface", reason="yuface has no wheel for this Python")
    registry = Registry(tmp_path)
    hog = FacesDetector(FacesSettings(detector="dlib-hog"), registry=registry)
    yunet = FacesDetector(FacesSettings(detector="libfacedetection-yuface"), registry=registry)
    assert "hog-frame" not in hog.version  # HOG's own faces: nothing changed, nothing re-analysed
    assert yunet.version.endswith("+hog-frame")
