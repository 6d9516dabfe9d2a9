"""What the photo screen says about one photo: its score and facts, why it scores that, and
every finding, one line each. Personal data only ever appears masked."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from shadowlens.daemon.wording import device_name
from shadowlens.tui.formats import risk_style
from shadowlens.tui.pictures import colour_of

Secrets = list[tuple[str, str]]  # (a personal value as found, its masked form)


def summary(info: dict[str, Any] | None, threshold: int) -> Text:
    if info is None:
        return Text("Not in the index (yet).", style="italic")
    score = info.get("exposure")
    out = Text.assemble(
        (f"{score if score is not None else '–'}/100", risk_style(score, threshold, low="bold"))
    )
    if info.get("marked_safe"):
        out.append("  marked safe", style="green")
    if info.get("status") != "indexed":
        out.append(f"  {info.get('status')}: {info.get('error') or ''}", style="italic")
    place = info.get("place") or {}
    device = info.get("device") or {}
    facts = [
        (info.get("taken_at") or "").replace("T", " ")[:16],
        ", ".join(str(v) for v in (place.get("city"), place.get("admin"), place.get("country_code")) if v),
        device_name(device.get("make"), device.get("model")) or "",
        f"{info['width']}×{info['height']}" if info.get("width") else "",
    ]
    out.append("\n" + " · ".join(fact for fact in facts if fact), style="dim")
    for problem in info.get("detector_errors") or []:
        out.append(f"\n{problem['detector']} failed: {problem['error']}", style="dim italic")
    return out


def reasons(info: dict[str, Any] | None) -> Text:
    listed = (info or {}).get("reasons") or []
    if not listed:
        return Text("Nothing that raises the score.", style="dim")
    lines = [Text.assemble((f"{'+' + str(r['points']):>4} ", "bold"), str(r["text"])) for r in listed]
    return Text("\n").join(lines)


def findings(info: dict[str, Any] | None) -> Text:
    found: list[dict[str, Any]] = (info or {}).get("findings") or []
    if not found:
        return Text("None.", style="dim")
    secrets = [
        (str(f["attrs"]["value"]), str(f["attrs"].get("masked", "•••")))
        for f in found
        if f["kind"] == "pii" and (f.get("attrs") or {}).get("value")
    ]
    return Text("\n").join(finding_line(f, secrets) for f in found)


def finding_line(finding: dict[str, Any], secrets: Secrets) -> Text:
    """``kind  what it is  [x,y w×h]  details``. In the detector's own words (its ``shown`` hook)
    when the index read gives them; otherwise the label and the attributes worth a glance."""
    kind = str(finding["kind"])
    line = Text.assemble((f"{kind:<7}", f"bold {colour_of(kind)}"), " ")
    said = detector_words(finding)
    line.append(mask(_without_kind(str(said), kind), secrets) if said else _label(finding, secrets))
    if finding.get("bbox"):
        x, y, w, h = (round(v) for v in finding["bbox"])
        line.append(f"  [{x},{y} {w}×{h}]", style="dim")
    details = [] if said else key_attrs(finding)
    if details:
        line.append("  " + " · ".join(details), style="italic")
    return line


def detector_words(finding: dict[str, Any]) -> str | None:
    """The read's words for a finding (``text``; ``shown`` while that is its name), unless they
    are only the default "kind label": the read says that for a detector whose hooks this
    process lacks (the TUI loads no detector code), and the label with its attributes says more."""
    said = finding.get("text") or finding.get("shown")
    if not said or str(said) == f"{finding['kind']} {finding['label']}":
        return None
    return str(said)


def _without_kind(said: str, kind: str) -> str:
    # Most detectors' words start with the kind ("brand Heineken (alcohol)", "face, about 35"):
    # the coloured tag in front of the line already says it.
    for separator in (" ", ", ", ": "):
        if said.startswith(kind + separator):
            return said[len(kind) + len(separator) :]
    return "" if said == kind else said


def key_attrs(finding: dict[str, Any]) -> list[str]:
    """The attributes worth a glance, per kind. Personal data only ever in its masked form."""
    kind, attrs = finding["kind"], finding.get("attrs") or {}
    out: list[str] = []
    if kind == "face":
        if attrs.get("age") is not None:
            out.append(f"age ~{attrs['age']:.0f}")
        out += [str(attrs["sex"])] if attrs.get("sex") else []
        out += ["smiling"] if attrs.get("smiling") else []
        if finding.get("person_id") is not None:
            out.append(f"person #{finding['person_id']}")
    elif kind == "pii":
        out.append(str(attrs.get("masked", "")))
    elif kind == "brand":
        out += [str(attrs.get("category") or ""), f"via {attrs['via']}" if attrs.get("via") else ""]
    elif kind == "code":
        out.append(str(attrs.get("payload_type", "")))
    elif kind == "nudity":
        out += [str(attrs.get("body_part", "")), "exposed" if attrs.get("exposed") else "covered"]
    elif kind == "scene":
        out.append(", ".join(str(e) for e in (attrs.get("evidence") or [])[:3]))
    elif kind in ("time", "name", "metadata_issue", "written_place", "keywords", "caption"):
        out.append(str(attrs.get("source") or attrs.get("field") or attrs.get("reason") or ""))
    return [part for part in out if part]


def _label(finding: dict[str, Any], secrets: Secrets) -> str:
    label = str(finding["label"])
    if label == finding["kind"]:
        return ""  # a face is labelled "face": once is enough
    # A line of text holds the personal data found in it: show it the way pii is shown.
    return mask(label, secrets) if finding["kind"] == "text" else label


def mask(text: str, secrets: Secrets) -> str:
    """``text`` with every personal value in it masked. OCR keeps the printed spacing ("4242
    4242 ...") while pii stores the value normalised, so letters and digits are compared too;
    a text holding a secret that way is shown as its mask."""
    for value, masked in secrets:
        if value in text:
            text = text.replace(value, masked)
        elif _alnum(value) and _alnum(value) in _alnum(text):
            text = masked
    return text


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).lower()
