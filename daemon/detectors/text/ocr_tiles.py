"""Where OCR looks: regions around the gate's text, regions that hold print (a cheap look at
the pixels, no model), tiles over a large region, and joining the lines that several tiles saw.

Boxes are quadrilaterals (top-left, top-right, bottom-right, bottom-left) as float32 arrays of
shape (N, 4, 2), in the pixels of the image they were found in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

Region = tuple[int, int, int, int]
Boxes = NDArray[np.float32]

# Pixel values of a tile with nothing on it (blank paper, a filled redaction) vary less than
# this; JPEG noise on a flat area stays near 1.
FLAT_STD = 2.0
# A step of this many grey levels between neighbouring pixels is an edge of a letter; sky,
# clouds, blur and JPEG noise stay well under it...
PRINT_STEP = 48
# ...and a tile with fewer such steps than this holds no line of print, even a short one.
PRINT_STEPS = 24
# Print is looked for in square cells this wide (at detection scale, where small print is about
# 6 px high): a cell holds print when PRINT_ROWS of its rows each cross PRINT_ROW_STEPS edges.
PRINT_CELL = 32
PRINT_ROW_STEPS = 6
PRINT_ROWS = 3
# Two boxes are one line when they overlap vertically by this share of the lower one...
SAME_LINE_OVERLAP = 0.6
# ...and neither is more than this many times as high as the other (two lines read as one are not
# the same line as either of them).
SAME_LINE_HEIGHTS = 1.6


def no_boxes() -> Boxes:
    return np.zeros((0, 4, 2), dtype=np.float32)


def text_regions(boxes: NDArray[np.float32], shape: tuple[int, ...], margin: float) -> list[Region]:
    """Rectangles (x0, y0, x1, y1) around the gate's text boxes, grown by ``margin`` of the long
    side and merged where they overlap; one whole-image region when they cover most of it."""
    height, width = shape[:2]
    pad = margin * max(width, height)
    regions: list[Region] = []
    for quad in boxes:
        pts = np.asarray(quad, dtype=np.float32).reshape(-1, 2)
        regions.append(
            (
                max(0, int(pts[:, 0].min() - pad)),
                max(0, int(pts[:, 1].min() - pad)),
                min(width, int(pts[:, 0].max() + pad) + 1),
                min(height, int(pts[:, 1].max() + pad) + 1),
            )
        )
    return merged(regions, width, height)


def merged(regions: list[Region], width: int, height: int) -> list[Region]:
    """Overlapping rectangles as one; the whole image when they cover most of it."""
    regions = list(regions)
    joined = True
    while joined:
        joined = False
        for i, a in enumerate(regions):
            for j in range(i + 1, len(regions)):
                b = regions[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    regions[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del regions[j]
                    joined = True
                    break
            if joined:
                break
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
    # Overlapping crops would read a line twice; past this share one pass over it all is cheaper.
    if area > 0.6 * width * height:
        return [(0, 0, width, height)]
    return regions


def _steps(pixels: NDArray[np.uint8], step: int) -> NDArray[np.bool_]:
    """Where the brightness (green: the channel closest to it) jumps by ``step`` to the right."""
    grey = pixels[:, :, 1] if pixels.ndim == 3 else pixels
    jumps: NDArray[np.bool_] = np.abs(np.diff(grey.astype(np.int16), axis=1)) >= step
    return jumps


def print_regions(image: NDArray[np.uint8]) -> list[Region]:
    """Rectangles of ``image`` that hold print: cells of PRINT_CELL pixels with PRINT_ROWS rows
    that cross PRINT_ROW_STEPS sharp edges (a row through a line of letters crosses stroke after
    stroke; sky, skin, a road or a lone edge do not), grown to take in a line's ends and
    neighbours, and merged. ``image`` is at the scale small print will be detected at."""
    import cv2

    height, width = image.shape[:2]
    rows, cols = -(-height // PRINT_CELL), -(-(width - 1) // PRINT_CELL)
    if height < 2 or width < 2:
        return []
    steps = np.zeros((rows * PRINT_CELL, cols * PRINT_CELL), dtype=bool)
    steps[:height, : width - 1] = _steps(image, PRINT_STEP)
    per_row = steps.reshape(rows, PRINT_CELL, cols, PRINT_CELL).sum(axis=3)
    cells = (per_row >= PRINT_ROW_STEPS).sum(axis=1) >= PRINT_ROWS
    if not cells.any():
        return []
    # Two cells along a line (a wide word gap, its first and last letters), one across it.
    grown = np.asarray(cv2.dilate(cells.astype(np.uint8), np.ones((3, 5), dtype=np.uint8)), dtype=np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    found = [
        (
            int(x) * PRINT_CELL,
            int(y) * PRINT_CELL,
            min(width, int(x + w) * PRINT_CELL),
            min(height, int(y + h) * PRINT_CELL),
        )
        for x, y, w, h, _ in np.asarray(stats)[1:count]
    ]
    return merged(found, width, height)


def tile_grid(width: int, height: int, side: int, overlap: int) -> list[Region]:
    """Rectangles of at most ``side`` x ``side`` covering the image, neighbours sharing at least
    ``overlap`` pixels so that a line cut by one tile's edge lies whole in the next (up to that
    height). Tiles are as small as that allows: a tile half outside the image would be paid for."""
    overlap = min(overlap, side // 2)

    def spans(length: int) -> list[tuple[int, int]]:
        if length <= side:
            return [(0, length)]
        count = int(np.ceil((length - overlap) / (side - overlap)))
        size = min(side, int(np.ceil((length + (count - 1) * overlap) / count)))
        step = (length - size) / (count - 1)
        return [(round(i * step), min(length, round(i * step) + size)) for i in range(count)]

    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def is_flat(pixels: NDArray[np.uint8]) -> bool:
    """Nothing to read: every pixel about the same colour (every third one is enough to tell)."""
    if pixels.size == 0:
        return True
    sample = pixels[::3, ::3].reshape(-1, pixels.shape[2] if pixels.ndim == 3 else 1)
    return float(sample.std(axis=0).max()) < FLAT_STD


def has_print(pixels: NDArray[np.uint8], step: int = PRINT_STEP) -> bool:
    """Whether there are edges as sharp as a letter's anywhere (every second row is enough)."""
    if pixels.size == 0 or pixels.shape[1] < 2:
        return False
    return int(np.count_nonzero(_steps(pixels[::2], step))) >= PRINT_STEPS


def rects(boxes: Boxes) -> NDArray[np.float32]:
    """(x0, y0, x1, y1) around each box."""
    if len(boxes) == 0:
        return np.zeros((0, 4), dtype=np.float32)
    return np.concatenate([boxes.min(axis=1), boxes.max(axis=1)], axis=1).astype(np.float32)


def _quad(rect: Sequence[float]) -> NDArray[np.float32]:
    x0, y0, x1, y1 = (float(v) for v in rect)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def _same_lines(r: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For every pair of rectangles, whether they are one line seen twice (or cut in two)."""
    height = r[:, 3] - r[:, 1]
    low = np.minimum(height[:, None], height[None, :])
    high = np.maximum(height[:, None], height[None, :])
    overlap_y = np.minimum(r[:, None, 3], r[None, :, 3]) - np.maximum(r[:, None, 1], r[None, :, 1])
    overlap_x = np.minimum(r[:, None, 2], r[None, :, 2]) - np.maximum(r[:, None, 0], r[None, :, 0])
    return (
        (low > 0)
        & (high <= SAME_LINE_HEIGHTS * low)
        & (overlap_y >= SAME_LINE_OVERLAP * low)
        & (overlap_x > 0)
    )


def join_tiles(per_tile: Sequence[Boxes]) -> Boxes:
    """The boxes of overlapping tiles as one set: a line seen by two tiles, whole or cut at a
    tile's edge, becomes one box around both. Boxes of one tile are joined only through a box of
    another tile that spans them (the detector split them on purpose)."""
    boxes = np.concatenate([no_boxes(), *per_tile]).astype(np.float32)
    if len(boxes) < 2:
        return boxes
    tile = np.concatenate([np.full(len(b), i) for i, b in enumerate(per_tile)])
    r = rects(boxes).astype(np.float64)
    pairs = np.argwhere(np.triu(_same_lines(r) & (tile[:, None] != tile[None, :]), k=1))
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    joined = [
        boxes[members[0]]
        if len(members) == 1
        else _quad([*r[members, :2].min(axis=0), *r[members, 2:].max(axis=0)])
        for members in sorted(groups.values())
    ]
    return np.stack(joined).astype(np.float32)


def _overlaps(boxes: Boxes, others: Boxes) -> NDArray[np.float64]:
    """Intersection areas, one row per box, one column per other box."""
    a, b = rects(boxes).astype(np.float64), rects(others).astype(np.float64)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    areas: NDArray[np.float64] = np.clip(width, 0, None) * np.clip(height, 0, None)
    return areas


def _areas(boxes: Boxes) -> NDArray[np.float64]:
    r = rects(boxes).astype(np.float64)
    return np.maximum((r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1]), 1e-6)


def unseen(boxes: Boxes, seen: Boxes, share: float = 0.5) -> Boxes:
    """The boxes of which less than ``share`` lies inside any box of ``seen``: lines another pass
    has not read yet."""
    if len(boxes) == 0 or len(seen) == 0:
        return boxes
    covered = _overlaps(boxes, seen).max(axis=1) / _areas(boxes)
    kept: Boxes = boxes[covered < share]
    return kept


def distinct(boxes: Boxes, kept: Boxes, iou: float = 0.5) -> Boxes:
    """The boxes that are not the same box as one in ``kept`` (intersection over union)."""
    if len(boxes) == 0 or len(kept) == 0:
        return boxes
    inter = _overlaps(boxes, kept)
    union = _areas(boxes)[:, None] + _areas(kept)[None, :] - inter
    apart: Boxes = boxes[(inter / union).max(axis=1) < iou]
    return apart


def overlap_share(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """How much of the smaller of two boxes lies inside the other."""
    pair = np.stack([a, b]).astype(np.float32)
    inter = float(_overlaps(pair[:1], pair[1:])[0, 0])
    return inter / float(_areas(pair).min())
