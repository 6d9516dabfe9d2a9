"""What the synthetic photos hold besides faces: OCR lines, brands, objects, scenes, personal data
and codes, with the facts the profile reads from them. Part of ``synthetic_index``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthetic_rows import IndexRows

if TYPE_CHECKING:
    from synthetic_photos import Draws

OBJECTS = {  # COCO labels and their weights among detected objects
    "person": 30,
    "cup": 6,
    "bottle": 6,
    "chair": 6,
    "dining table": 5,
    "car": 5,
    "cell phone": 4,
    "potted plant": 3,
    "dog": 3,
    "laptop": 2,
    "tv": 2,
    "book": 2,
    "couch": 2,
    "handbag": 2,
    "bicycle": 2,
    "wine glass": 2,
    "bed": 1,
    "backpack": 1,
    "umbrella": 1,
    "clock": 1,
    "cake": 1,
    "pizza": 1,
    "sports ball": 1,
    "donut": 0.5,
    "hot dog": 0.3,
    "teddy bear": 1,
}
WORDS = ("sale", "open", "daily", "menu", "exit", "welcome", "coffee", "station", "street", "total", "price")


def add_content(
    rows: IndexRows, draws: Draws, lexicon: list[tuple[str, str, str]], photo_id: int, kind: str, draw: Any
) -> tuple[list[Any], list[str], list[str], list[str], list[str]]:
    """Texts, brands (of ``lexicon``), objects, scenes, personal data and codes of one photo;
    returns (brands, objects, scenes, pii, codes) as the profile's facts hold them."""
    from shadowlens.daemon.profile.facts import BrandHit

    index = photo_id - 1
    for t in range(int(draws.text_at[index]), int(draws.text_at[index + 1])):
        words = " ".join(WORDS[i] for i in draws.text_words[t].tolist())
        x, y = draws.text_xy[t].tolist()
        polygon = [[x, y], [x + 300, y], [x + 300, y + 40], [x, y + 40]]
        rows.finding(
            photo_id, "text", words, {"polygon": polygon}, "text", "1+ppocr-v4", 0.9, [x, y, 300, 40]
        )
    brands = []
    for b in range(int(draws.brand_at[index]), int(draws.brand_at[index + 1])):
        name, category, parent = lexicon[int(draws.brand_pick[b])]
        via = str(draws.brand_via[b])
        attrs = {"category": category, "parent": parent, "via": via, "matched": name, "score": 0.95}
        rows.finding(photo_id, "brand", name, attrs, "brands", "1", 0.9)
        brands.append(BrandHit(name, category, parent, via))
    objects = []
    names = list(OBJECTS)
    for o in range(int(draws.object_at[index]), int(draws.object_at[index + 1])):
        label = names[int(draws.object_pick[o])]
        rows.finding(photo_id, "object", label, {"model": "yolov8n"}, "objects", "1+yolov8n", 0.7)
        objects.append(label)
    scenes = []
    if kind == "screenshot" and draw[3] < 0.9:
        scenes.append("screenshot")
    elif kind == "camera" and draw[3] < 0.02:
        scenes.append("document")
    elif kind == "camera" and draw[3] < 0.022:
        scenes.append("id_card")
    for label in scenes:
        rows.finding(photo_id, "scene", label, {"evidence": ["lines"]}, "scene", "1", 0.8)
    pii = []
    if draw[4] < (0.2 if kind == "screenshot" else 0.01):
        label = ("email", "phone", "address", "card", "iban")[int(draw[4] * 1000) % 5]
        rows.finding(
            photo_id, "pii", label, {"value": "***", "masked": "***", "details": {}}, "pii", "1", 0.9
        )
        pii.append(label)
    codes = []
    if draw[5] < 0.005:
        payload = ("url", "wifi", "product", "boarding_pass")[int(draw[5] * 10_000) % 4]
        attrs = {"payload_type": payload, "payload": "***", "details": {}}
        rows.finding(photo_id, "code", "QRCODE", attrs, "codes", "1", 1.0)
        codes.append(payload)
    return brands, objects, scenes, pii, codes
