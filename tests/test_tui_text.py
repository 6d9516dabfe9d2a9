"""What the TUI says, without a screen: findings in words, scores in colours (tests/test_tui.py
drives the screens themselves)."""

from __future__ import annotations

from rich.text import Text
from shadowlens.tui import photo_text
from shadowlens.tui.formats import HIGH, LOW, MEDIUM, risk_style


def test_scores_are_coloured_against_the_alert_threshold() -> None:
    assert [risk_style(s, 60) for s in (100, 60, 59, 30, 29, None)] == [HIGH, HIGH, MEDIUM, MEDIUM, LOW, LOW]
    assert [risk_style(s, 40, low="green") for s in (45, 20, 19)] == [HIGH, MEDIUM, "green"]


def test_a_finding_is_told_in_the_words_the_index_read_gives() -> None:
    card = {
        "kind": "pii",
        "label": "card",
        "bbox": [40, 61, 498, 58],
        "attrs": {"value": "4242424242424242", "masked": "**** 4242"},
    }
    line = {"kind": "text", "label": "4242 4242 4242 4242", "bbox": None, "attrs": {}}
    face = {"kind": "face", "label": "face", "bbox": None, "attrs": {"age": 35.0}, "person_id": 3}
    secrets = [("4242424242424242", "**** 4242")]
    # Before the reads give a text: the label and the attributes worth a glance, masked.
    assert photo_text.finding_line(card, secrets).plain == "pii     card  [40,61 498×58]  **** 4242"
    assert photo_text.finding_line(line, secrets).plain == "text    **** 4242"
    assert photo_text.finding_line(face, secrets).plain == "face      age ~35 · person #3"
    # With it: the detector's words (their leading kind is the tag's), personal data still masked.
    said = photo_text.finding_line({**line, "text": 'text "4242 4242 4242 4242"'}, secrets)
    assert said.plain == "text    **** 4242"
    described = {**face, "text": "face, about 35, male, smiling, person 3"}
    assert photo_text.finding_line(described, secrets).plain == "face    about 35, male, smiling, person 3"
    # The default words ("kind label", a detector whose hooks the TUI does not load) say less.
    assert (
        photo_text.finding_line({**face, "shown": "face face"}, secrets).plain
        == "face      age ~35 · person #3"
    )
    assert photo_text.finding_line({**card, "shown": "payment card: **** 4242"}, secrets).plain == (
        "pii     payment card: **** 4242  [40,61 498×58]"
    )
    card_said = photo_text.finding_line({**card, "text": "payment card: **** 4242"}, secrets)
    assert (
        isinstance(card_said, Text) and card_said.plain == "pii     payment card: **** 4242  [40,61 498×58]"
    )
