"""Phone numbers without a country code and without GPS, and OCR-confused numbers and links.

Screenshots and scans carry no GPS, yet their numbers are written the national way. The country
comes from the photo's place, else ``[detectors.pii] home_country``, else the system locale (always
injected here: no test depends on this machine's locale), else the library's countries, and a
number after a phone label is also tried in the common countries. Every such finding says which
country it assumed and why. OCR confusions (T/7, O/0, l/1, S/5, B/8, n/h) are undone only when
the repaired value passes its check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import Finding, PlaceFinding, TextFinding
from shadowlens.daemon.analysis.plugins import detector_settings, discover
from shadowlens.daemon.config import ConfigError, parse_config
from shadowlens.daemon.detectors.text.personal import PersonalDataDetector, PiiFinding, PiiSettings
from shadowlens.daemon.detectors.text.pii import PiiMatch, find_pii
from shadowlens.daemon.detectors.text.pii_regions import Regions, choose_regions, locale_region

NO_LOCALE = "C.UTF-8"


def phones(
    lines: list[str],
    settings: PiiSettings | None = None,
    locale: str | None = None,
    country: str | None = None,
) -> list[PiiFinding]:
    """The phone findings of the detector on a photo of ``lines``, with an injected locale."""
    photo = PhotoContext(path=Path("screenshot.png"), decoded=None)  # type: ignore[arg-type]  # text only
    photo.findings.extend(TextFinding(label=line, confidence=0.98) for line in lines)
    if country:
        place = PlaceFinding(
            label="x", city=None, admin=None, country_code=country, lat=0.0, lon=0.0, distance_km=1.0
        )
        photo.findings.append(place)
    detector = PersonalDataDetector(settings or PiiSettings(), system_region=lambda: locale)
    return [f for f in detector.detect(photo) if isinstance(f, PiiFinding) and f.label == "phone"]


def assumed(finding: Finding) -> tuple[str, str, str]:
    assert isinstance(finding, PiiFinding)
    return finding.value, finding.details["region"], finding.details["region_from"]


# --- where the country comes from ---------------------------------------------------------------------


US_LINE = ["Front desk (212) 555-0142"]
UK_LINE = ["Reception 020 7946 0018"]
DE_LINE = ["Zentrale 030 1234567"]


def test_without_gps_the_home_country_decides() -> None:
    us, uk, de = (PiiSettings(home_country=c) for c in ("US", "GB", "DE"))
    assert [assumed(f) for f in phones(US_LINE, us)] == [("+12125550142", "US", "home_country")]
    assert [assumed(f) for f in phones(UK_LINE, uk)] == [("+442079460018", "GB", "home_country")]
    assert [assumed(f) for f in phones(DE_LINE, de)] == [("+49301234567", "DE", "home_country")]


def test_the_photos_place_comes_before_the_home_country() -> None:
    found = phones(UK_LINE, PiiSettings(home_country="US"), country="GB")
    assert [assumed(f) for f in found] == [("+442079460018", "GB", "place")]
    assert phones(US_LINE, PiiSettings(home_country="US"), country="GB") == []


def test_without_home_country_the_locale_decides() -> None:
    assert [assumed(f) for f in phones(DE_LINE, locale="DE")] == [("+49301234567", "DE", "locale")]
    assert [assumed(f) for f in phones(US_LINE, locale="US")] == [("+12125550142", "US", "locale")]
    assert phones(DE_LINE, locale="US") == []


def test_without_locale_the_library_countries_in_order() -> None:
    library = PiiSettings(regions=["GB", "DE", "IT"])
    assert [assumed(f) for f in phones(UK_LINE, library)] == [("+442079460018", "GB", "library")]
    assert [assumed(f) for f in phones(DE_LINE, library)] == [("+49301234567", "DE", "library")]
    # 030 1234567 is a valid Italian number too (Brescia): the first country in the list wins.
    italy_first = PiiSettings(regions=["IT", "DE"])
    assert [assumed(f) for f in phones(DE_LINE, italy_first)] == [("+390301234567", "IT", "library")]
    assert phones(US_LINE, library) == []
    assert phones(US_LINE) == []  # no source at all: only numbers with their +code


@pytest.mark.parametrize(
    ("line", "value", "region"),
    [
        ("Tel: (212) 555-0142", "+12125550142", "US"),
        ("Phone 020 7946 0018", "+442079460018", "GB"),
        ("Mobil: 0151 23456789", "+4915123456789", "DE"),
        ("Fax 030 1234567", "+49301234567", "DE"),
        ("Téléphone : 01 42 68 53 00", "+33142685300", "FR"),
    ],
)
def test_a_phone_label_is_enough_in_a_common_country(line: str, value: str, region: str) -> None:
    assert [assumed(f) for f in phones([line])] == [(value, region, "label")]


def test_a_label_only_vouches_for_the_number_after_it() -> None:
    assert phones(["(212) 555-0142 Tel"]) == []


def test_the_regions_of_the_photo_win_over_the_label_guess() -> None:
    # 030 1234567 is valid in Germany; with a German locale the label guess is not needed.
    assert [assumed(f) for f in phones(["Tel 030 1234567"], locale="DE")] == [
        ("+49301234567", "DE", "locale")
    ]


def test_international_numbers_need_no_region() -> None:
    [found] = phones(["Call +44 20 7946 0018"])
    assert found.value == "+442079460018" and found.details["international"] is True
    assert "region_from" not in found.details


def test_choose_regions_in_order() -> None:
    assert choose_regions("fr", "US", "DE", ["IT"]) == Regions(("FR",), "place")
    assert choose_regions(None, "US", "DE", ["IT"]) == Regions(("US",), "home_country")
    assert choose_regions(None, None, "DE", ["IT"]) == Regions(("DE",), "locale")
    assert choose_regions(None, None, None, ["IT", "GB", "IT"]) == Regions(("IT", "GB"), "library")
    assert choose_regions(None, None, None, []).primary is None


@pytest.mark.parametrize(
    ("environ", "current", "region"),
    [
        ({"LANG": "de_DE.UTF-8"}, NO_LOCALE, "DE"),
        ({"LANG": "en_GB"}, NO_LOCALE, "GB"),
        ({"LC_ALL": "fr_CA.UTF-8", "LANG": "de_DE.UTF-8"}, NO_LOCALE, "CA"),
        ({"LC_TELEPHONE": "it_IT.UTF-8", "LANG": "en_US.UTF-8"}, NO_LOCALE, "IT"),
        ({"LANG": "C.UTF-8"}, "en_US.UTF-8", None),  # C: no country, even where Python says en_US
        ({"LANG": "de"}, NO_LOCALE, None),  # a language alone names no country
        ({}, "pt_BR.UTF-8", "BR"),
        ({}, NO_LOCALE, None),
        ({}, "POSIX", None),
    ],
)
def test_the_locale_gives_a_country_only_when_it_names_one(
    environ: dict[str, str], current: str, region: str | None
) -> None:
    assert locale_region(environ, lambda: current) == region


# --- the settings ---------------------------------------------------------------------------------


def test_settings_take_iso_codes_in_any_case() -> None:
    settings = PiiSettings(home_country="gb", regions=["de", "FR"])
    assert (settings.home_country, settings.regions) == ("GB", ["DE", "FR"])


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"home_country": "USA"}, "detectors.pii.home_country"),
        ({"home_country": "England"}, "detectors.pii.home_country"),
        ({"regions": ["DE", "XX"]}, "detectors.pii.regions"),
        ({"home_contry": "US"}, "detectors.pii.home_contry"),
    ],
)
def test_a_bad_country_is_one_line_naming_the_key(section: dict[str, object], key: str) -> None:
    config = parse_config({"detectors": {"pii": section}}, "config.toml")
    with pytest.raises(ConfigError) as error:
        detector_settings(config, discover())
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"config.toml: {key}: ")
    assert "ISO 3166" in message or "did you mean 'home_country'" in message


# --- OCR confusions -------------------------------------------------------------------------------


def fixed(lines: list[str], kind: str, region: str | Regions | None = None) -> list[PiiMatch]:
    return [m for m in find_pii(lines, region) if m.type == kind]


def test_a_misread_https_is_repaired() -> None:
    [url] = fixed(["Sign the CLA at nttps://cla.microsoft.com"], "url")
    assert url.value == "https://cla.microsoft.com" and url.details["ocr_fixed"] is True
    assert "\n".join(["Sign the CLA at nttps://cla.microsoft.com"])[url.start : url.end].startswith("nttps")
    [plain] = fixed(["https://cla.microsoft.com"], "url")
    assert "ocr_fixed" not in plain.details


def test_a_misread_top_level_domain_is_repaired_only_into_a_known_one() -> None:
    [email] = fixed(["mail jane.doe@example.c0m"], "email")
    assert email.value == "jane.doe@example.com" and email.details["ocr_fixed"] is True
    assert fixed(["mail jane.doe@example.c0x"], "email") == []


def test_a_t_for_7_in_a_phone_number_is_repaired() -> None:
    [phone] = fixed(["Tel: (212) 555-T234"], "phone", Regions(("US",), "home_country"))
    assert phone.value == "+12125557234"
    assert phone.details["ocr_fixed"] is True and phone.details["region"] == "US"
    [labelled] = fixed(["Tel: (212) 555-T234"], "phone")  # no region: the label finds the US
    assert labelled.details["region_from"] == "label"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("VISA 4111 1111 1111 111l", "4111111111111111"),
        ("Card no. 4O12 8888 8888 1881", "4012888888881881"),
        ("4012 888B 8888 1881", "4012888888881881"),
        ("5555 5555 5555 4444 exp 1O/29", "5555555555554444"),
    ],
)
def test_a_card_number_is_repaired_when_luhn_passes(text: str, value: str) -> None:
    [card] = fixed([text], "card")
    assert card.value == value
    # A repair elsewhere on the line ("1O/29") does not mark a card that was read right.
    assert bool(card.details.get("ocr_fixed")) is not text[:19].replace(" ", "").isdigit()


@pytest.mark.parametrize(
    "text",
    [
        "VISA 4111 1111 1111 111S",  # 4111...1115 fails Luhn
        "Card 4111 1111 1111 1l12",  # so does 4111...1112
        "Tel: (212) 555-T23X",  # X is no digit OCR confuses
        "Flight BA 287 departs 14:05 from gate B32",
        "Room 1O1, Floor 3",
    ],
)
def test_a_repair_that_fails_its_check_finds_nothing(text: str) -> None:
    assert [m for m in find_pii([text], "US") if m.details.get("ocr_fixed")] == []


def test_an_iban_is_repaired_when_mod_97_passes() -> None:
    [account] = fixed(["IBAN DE89 37O4 0044 0532 0130 00"], "iban")
    assert account.value == "DE89370400440532013000" and account.details["ocr_fixed"] is True
    assert fixed(["IBAN DE89 37O4 0044 0532 0130 01"], "iban") == []
