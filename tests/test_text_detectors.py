"""Text, brands, personal data, codes and nudity on real and rendered photos, with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import DetectorSettings, PhotoContext
from shadowlens.daemon.analysis.findings import BrandFinding, CodeFinding, Finding, NudityFinding, TextFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.codes.detector import CodesDetector, CodesSettings
from shadowlens.daemon.detectors.text.brands import BrandsDetector
from shadowlens.daemon.detectors.text.ocr import OcrDetector, OcrSettings, reading_order
from shadowlens.daemon.detectors.text.personal import PersonalDataDetector, PiiFinding
from shadowlens.daemon.detectors.vision.nudity import NudityDetector, NuditySettings

from tests.conftest import Env, corpus_or_skip

BACKGROUND = "exif-samples/gps/DSCN0010.jpg"


@pytest.fixture(scope="module")
def ocr() -> OcrDetector:
    return OcrDetector(OcrSettings())


def run(path: Path, *detectors: object) -> list[Finding]:
    decoded = open_photo(path, want_side=2048, max_megapixels=Config().decode.max_megapixels)
    context = PhotoContext(path=path, decoded=decoded)
    for detector in detectors:
        context.findings.extend(detector.detect(context))  # type: ignore[attr-defined]
    return context.findings


def render(path: Path, lines: list[str], size: int = 44) -> Path:
    """Text on a real photo, as a sign, a parcel label or a card would be."""
    image = Image.open(corpus_or_skip() / BACKGROUND).convert("RGB").resize((1280, 960))
    draw, font, y = ImageDraw.Draw(image), ImageFont.load_default(size=size), 50
    for line in lines:
        width = draw.textlength(line, font=font)
        draw.rectangle((40, y - 8, 60 + width, y + size + 12), fill="white")
        draw.text((50, y), line, fill="black", font=font)
        y += size + 50
    image.save(path, quality=92)
    return path


def personal_data() -> PersonalDataDetector:
    """The detector with no system locale: which country a national phone number is from must not
    depend on the machine the tests run on."""
    return PersonalDataDetector(DetectorSettings(), system_region=lambda: None)


def of(findings: list[Finding], kind: type) -> list:  # type: ignore[type-arg]
    return [f for f in findings if isinstance(f, kind)]


@pytest.mark.corpus
def test_street_signs_give_text_in_upright_full_size_boxes(ocr: OcrDetector) -> None:
    corpus = corpus_or_skip() / "easyocr-text"
    expected = {
        "french.jpg": "LOUVRE",
        "japanese.jpg": "NO LITTER",
        "chinese.jpg": "Yuyuan",
        "example3.png": "MARKET",
    }
    for name, word in expected.items():
        lines = of(run(corpus / name, ocr), TextFinding)
        assert any(word.lower() in line.label.lower() for line in lines), (name, [x.label for x in lines])
        width, height = Image.open(corpus / name).size
        assert all(
            x.bbox and x.bbox[0] + x.bbox[2] <= width + 1 and x.bbox[1] + x.bbox[3] <= height + 1
            for x in lines
        )


@pytest.mark.corpus
def test_rendered_brand_phone_email_and_card_give_exactly_the_expected_findings(
    ocr: OcrDetector, tmp_path: Path
) -> None:
    photo = render(
        tmp_path / "label.jpg",
        ["Coca-Cola", "Call +44 20 7946 0958", "jane.doe@example.com", "4242 4242 4242 4242"],
    )
    findings = run(photo, ocr, personal_data(), BrandsDetector(DetectorSettings()))
    assert [(b.label, b.parent, b.via) for b in of(findings, BrandFinding)] == [
        ("Coca-Cola", "The Coca-Cola Company", "text")
    ]
    pii = {p.label: p for p in of(findings, PiiFinding)}
    assert set(pii) == {"phone", "email", "card"}
    assert pii["card"].masked == "**** **** **** 4242" and pii["card"].value.replace(" ", "") == "4242" * 4
    assert "7946" not in pii["phone"].masked and "jane.doe" not in pii["email"].masked


@pytest.mark.corpus
def test_rendered_mrz_and_addresses_give_exactly_the_expected_findings(
    ocr: OcrDetector, tmp_path: Path
) -> None:
    personal = personal_data()
    # ICAO 9303's specimen passport: every check digit is valid.
    mrz = render(
        tmp_path / "passport.jpg",
        ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"],
        size=26,
    )
    found = {p.label: p for p in of(run(mrz, ocr, personal), PiiFinding)}
    assert set(found) == {"mrz", "date_of_birth"}
    assert "ERIKSSON" not in found["mrz"].masked and "L898902" not in found["mrz"].masked
    assert found["date_of_birth"].masked == "1974-**-**"
    for name, lines in {
        "uk.jpg": ["Jane Doe", "221B Baker Street", "London NW1 6XE"],
        "us.jpg": ["John Smith", "1600 Pennsylvania Avenue NW", "Washington, DC 20500"],
    }.items():
        labels = [p.label for p in of(run(render(tmp_path / name, lines), ocr, personal), PiiFinding)]
        # The addressee is a name too: a known first name and surname alone on their line.
        assert labels == ["name", "address"], (name, labels)


@pytest.mark.corpus
def test_common_word_brands_do_not_fire_on_ordinary_sentences(ocr: OcrDetector, tmp_path: Path) -> None:
    photo = render(
        tmp_path / "sentences.jpg",
        ["I ate an apple near the target", "We sat in the shell of a car", "Mind the gap"],
    )
    findings = run(photo, ocr, BrandsDetector(DetectorSettings()))
    assert len(of(findings, TextFinding)) == 3
    assert of(findings, BrandFinding) == []


@pytest.mark.corpus
def test_photos_without_text_give_no_brand(ocr: OcrDetector) -> None:
    for name in ("face_recognition/obama.jpg", "exif-samples/gps/DSCN0010.jpg", "dlib-faces/dogs.jpg"):
        assert of(run(corpus_or_skip() / name, ocr, BrandsDetector(DetectorSettings())), BrandFinding) == []


def _with_code(tmp_path: Path, name: str, text: str, fmt: str) -> Path:
    import zxingcpp

    code = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    symbol = Image.fromarray(__import__("numpy").asarray(code.to_image(scale=4))).convert("RGB")
    image = Image.open(corpus_or_skip() / BACKGROUND).convert("RGB")
    canvas = Image.new(
        "RGB", (image.width + symbol.width + 80, max(image.height, symbol.height + 80)), "white"
    )
    canvas.paste(image, (0, 0))
    canvas.paste(symbol, (image.width + 40, 40))
    canvas.save(tmp_path / name, quality=95)
    return tmp_path / name


@pytest.mark.corpus
def test_wifi_qr_boarding_pass_and_product_codes(tmp_path: Path) -> None:
    codes = CodesDetector(CodesSettings())
    wifi = of(
        run(_with_code(tmp_path, "wifi.jpg", "WIFI:S:HomeNet;T:WPA;P:hunter2secret;;", "QRCode"), codes),
        CodeFinding,
    )
    assert [(c.label, c.payload_type) for c in wifi] == [("QRCode", "wifi")]
    assert "hunter2secret" not in wifi[0].payload and wifi[0].details["ssid"] == "HomeNet"
    bcbp = "M1DOE/JANE MARIE      EABC123 LHRJFKBA 0117 123Y014C0042 100"
    boarding = of(run(_with_code(tmp_path, "pass.jpg", bcbp, "PDF417"), codes), CodeFinding)
    assert [c.payload_type for c in boarding] == ["boarding_pass"]
    assert boarding[0].details["passenger"] == "DOE JANE MARIE" and boarding[0].details["from"] == "LHR"
    assert boarding[0].details["flight"] == "BA 117"
    product = run(
        _with_code(tmp_path, "can.jpg", "5449000000996", "EAN13"), codes, BrandsDetector(DetectorSettings())
    )
    assert [(c.payload_type, c.details["gtin"]) for c in of(product, CodeFinding)] == [
        ("product", "5449000000996")
    ]
    assert [(b.label, b.via) for b in of(product, BrandFinding)] == [("Coca-Cola", "code")]


@pytest.mark.corpus
def test_nudenet_reports_no_exposure_on_ordinary_photos_and_never_faces() -> None:
    detector = NudityDetector(NuditySettings())
    for name in ("face_recognition/obama.jpg", "dlib-faces/bald_guys.jpg", "exif-samples/gps/DSCN0010.jpg"):
        found = of(run(corpus_or_skip() / name, detector), NudityFinding)
        assert not [f for f in found if f.exposed], name
        assert not [f for f in found if f.label.startswith("FACE_")]


def _scene(path: Path, ocr: OcrDetector) -> list[str]:
    from shadowlens.daemon.detectors.metadata import MetadataDetector
    from shadowlens.daemon.detectors.vision.scene import SceneDetector, SceneFinding

    findings = run(
        path,
        MetadataDetector(DetectorSettings()),
        ocr,
        personal_data(),
        CodesDetector(CodesSettings()),
        SceneDetector(SceneDetector.Settings()),
    )
    return sorted(f.label for f in findings if isinstance(f, SceneFinding))


@pytest.mark.corpus
def test_screenshots_documents_and_id_cards_are_flagged(ocr: OcrDetector, tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    assert _scene(corpus / "exif-samples/gps/DSCN0025.jpg", ocr) == [], "a camera photo of a street"
    phone = Image.new("RGB", (1170, 2532), "white")
    draw, font = ImageDraw.Draw(phone), ImageFont.load_default(size=48)
    for i, line in enumerate(["Messages", "Are we still on for dinner?", "See you at 8", "Delivered"]):
        draw.text((80, 200 + i * 160), line, fill="black", font=font)
    phone.save(tmp_path / "IMG_0001.PNG")
    assert _scene(tmp_path / "IMG_0001.PNG", ocr) == ["screenshot"]
    letter = render(
        tmp_path / "letter.jpg", [f"Line {i} of a letter about the account" for i in range(9)], size=36
    )
    assert "document" in _scene(letter, ocr)
    card = render(tmp_path / "card.jpg", ["PASSPORT", "Surname DOE", "Given names JANE"], size=56)
    assert "id_card" in _scene(card, ocr)


@pytest.mark.corpus
def test_personal_data_never_reaches_logs_unmasked(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    render(folder / "card.jpg", ["4242 4242 4242 4242", "jane.doe@example.com"])
    proc = env.run("-vv", "scan", str(folder))
    log = (env.root / "state" / "shadowlens" / "log" / "shadowlens.log").read_text()
    (photo,) = env.json("photos")
    assert {f["label"] for f in photo["findings"] if f["kind"] == "pii"} == {"card", "email"}
    for secret in ("4242 4242 4242 4242", "4242424242424242", "jane.doe"):
        assert secret not in proc.stderr and secret not in log


def test_lines_come_in_reading_order_whatever_order_the_passes_found_them() -> None:
    def line(text: str, x: float, y: float) -> TextFinding:
        return TextFinding(label=text, confidence=0.9, bbox=(x, y, 120.0, 20.0))

    found = [
        line("city", 40, 242),
        line("Name:", 40, 100),
        line("Anna Berg", 200, 104),
        line("street", 40, 200),
    ]
    assert [f.label for f in reading_order(found)] == ["Name:", "Anna Berg", "street", "city"]


# Signs, street scenes and adverts of the corpus: public text, no one's personal data.
PUBLIC_TEXT = (
    *(f"easyocr-text/{n}" for n in ("chinese.jpg", "french.jpg", "japanese.jpg", "korean.png", "thai.jpg")),
    "easyocr-text/example3.png",
    "exif-samples/gps/DSCN0025.jpg",
    "exif-samples/gps/DSCN0042.jpg",
    "exif-samples/invalid/image00971.jpg",
)


@pytest.mark.corpus
def test_the_corpus_signs_and_street_scenes_give_no_personal_data(ocr: OcrDetector) -> None:
    corpus = corpus_or_skip()
    found = {}
    read = 0
    for name in PUBLIC_TEXT:
        findings = run(corpus / name, ocr, personal_data())
        read += len(of(findings, TextFinding))
        pii = [(p.label, p.value) for p in of(findings, PiiFinding)]
        if pii:
            found[name] = pii
    assert read >= len(PUBLIC_TEXT), "the signs must be read at all for silence to mean anything"
    assert found == {}
