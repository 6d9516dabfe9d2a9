"""Personal data in OCR lines: every type on realistic, noisy text, masks, and silence on ordinary text."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from shadowlens.daemon.detectors.text.mrz import check_digit
from shadowlens.daemon.detectors.text.pii import PiiMatch, find_pii, mask

PASSPORT = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]
ID_CARD = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
]


def of_type(lines: Sequence[str], kind: str, region: str | None = None) -> list[PiiMatch]:
    return [m for m in find_pii(lines, region) if m.type == kind]


def only(lines: Sequence[str], kind: str, region: str | None = None) -> PiiMatch:
    found = of_type(lines, kind, region)
    assert len(found) == 1, f"expected one {kind} in {lines}, got {find_pii(lines, region)}"
    return found[0]


def spanned(lines: Sequence[str], match: PiiMatch) -> str:
    return "\n".join(lines)[match.start : match.end]


# --- e-mail, handles, URLs ---------------------------------------------------------------------------


def test_email_is_found_normalised_and_masked() -> None:
    lines = ["Questions? Write to Jane.Doe@Example.COM today"]
    match = only(lines, "email")
    assert match.value == "Jane.Doe@example.com"
    assert match.masked == "J***@example.com"
    assert "Doe" not in match.masked
    assert spanned(lines, match) == "Jane.Doe@Example.COM"
    assert match.line == 0 and match.confidence >= 0.9


def test_email_domain_is_not_also_a_url_and_its_at_sign_is_not_a_handle() -> None:
    kinds = [m.type for m in find_pii(["mail: info@acme-shop.co.uk"])]
    assert kinds == ["email"]


def test_handle_with_platform_hint() -> None:
    match = only(["Follow me on Instagram @anna.maria_photo for more!"], "handle")
    assert match.value == "@anna.maria_photo"
    assert match.details == {"platform": "instagram"}
    assert match.masked == "@a***"


@pytest.mark.parametrize("text", ["Meet @ 5pm", "@ab", "price 2 @ $3.00", "see @10am", "@12345"])
def test_things_that_are_not_handles(text: str) -> None:
    assert of_type([text], "handle") == []


@pytest.mark.parametrize(
    ("text", "value", "host"),
    [
        (
            "Visit https://Janedoe.photography/portfolio/2023.",
            "https://janedoe.photography/portfolio/2023",
            "janedoe.photography",
        ),
        ("WWW.JANEDOE-STUDIO.COM", "www.janedoe-studio.com", "janedoe-studio.com"),
        ("order at janesbakery.co.uk or call", "janesbakery.co.uk", "janesbakery.co.uk"),
        ("Booking.com", "booking.com", "booking.com"),
    ],
)
def test_urls(text: str, value: str, host: str) -> None:
    found = of_type([text], "url")
    assert [m.value for m in found] == [value]
    assert found[0].details["host"] == host
    assert found[0].masked != value and host not in found[0].masked


def test_url_mask_keeps_a_public_host_and_hides_the_path() -> None:
    match = only(["instagram.com/jane.doe.1985"], "url")
    assert match.masked == "instagram.com/***"
    assert mask("https://www.janedoe.com/about", "url") == "https://www.j******.com/***"


def test_run_on_sentences_and_file_names_are_not_urls() -> None:
    lines = ["I went home.It was late.", "see report.pdf and photo.jpg", "version 1.2.3 e.g. i.e. U.S."]
    assert of_type(lines, "url") == []


# --- phone numbers -----------------------------------------------------------------------------------


def test_international_phone_without_region() -> None:
    lines = ["Tel: +44 20 7946 0018 (office)"]
    match = only(lines, "phone")
    assert match.value == "+442079460018"
    assert match.details["country"] == "GB"
    assert match.details["international"] is True
    assert match.masked == "+44 **** ***018"
    assert "7946" not in match.masked
    assert spanned(lines, match) == "+44 20 7946 0018"


def test_without_region_or_label_national_numbers_are_not_reported() -> None:
    # With a phone label ("Call", "Tel") they are: see tests/test_pii_regions.py.
    assert of_type(["Office 020 7946 0018 or (415) 555-2671"], "phone") == []


def test_region_decides_how_national_numbers_parse() -> None:
    lines = ["Office 020 7946 0018 or (415) 555-2671"]
    assert [m.value for m in of_type(lines, "phone", "GB")] == ["+442079460018"]
    assert [m.value for m in of_type(lines, "phone", "US")] == ["+14155552671"]
    assert [m.value for m in of_type(["Tel. 030 901820"], "phone", "DE")] == ["+4930901820"]
    assert of_type(["Zentrale 030 901820"], "phone", "GB") == []
    assert [m.value for m in of_type(["06 12 34 56 78"], "phone", "FR")] == ["+33612345678"]


def test_region_is_case_insensitive_and_bad_regions_mean_none() -> None:
    assert [m.value for m in of_type(["Office 020 7946 0018"], "phone", "gb")] == ["+442079460018"]
    assert of_type(["Office 020 7946 0018"], "phone", "Great Britain") == []


def test_versions_and_serials_are_not_phone_numbers() -> None:
    lines = [
        "gcc-12 (12-20220428-1) unstable",
        "binutils (2.13.90.0.18-1.7)",
        "Fix PR ld/16467",
        "ticket #1646",
    ]
    for region in ("US", "DE", "FR", "GB"):
        assert of_type(lines, "phone", region) == []


# --- payment cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits", "network"),
    [
        ("VISA 4242 4242 4242 4242  VALID THRU 12/26", "4242424242424242", "visa"),
        ("5555-5555-5555-4444", "5555555555554444", "mastercard"),
        ("Card no 2223 0031 2200 3222", "2223003122003222", "mastercard"),
        ("AMEX 3782 822463 10005", "378282246310005", "amex"),
        ("6011111111111117", "6011111111111117", "discover"),
        ("4000 0566 5566 5556 12 26", "4000056655665556", "visa"),
    ],
)
def test_cards(text: str, digits: str, network: str) -> None:
    match = only([text], "card")
    assert match.value == digits
    assert match.details["network"] == network
    assert match.masked.endswith(" " + digits[-4:])
    assert digits[4:-4] not in match.masked.replace(" ", "")
    assert set(match.masked) <= set("* 0123456789") and match.masked.count("*") == len(digits) - 4


def test_card_mask_format() -> None:
    assert mask("4242424242424242", "card") == "**** **** **** 4242"


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4241",  # Luhn fails
        "0000 0000 0000 0000",  # Luhn passes, but one digit repeated
        "9999 9999 9999 9995",  # Luhn passes, no card network starts with 9
        "4242 4242 4242 42",  # too short
        "SKU 4006381333931",  # an EAN-13, not a 13-digit card
        "1234 5678 9012 3456",
    ],
)
def test_not_cards(text: str) -> None:
    assert of_type([text], "card") == []


# --- IBANs -------------------------------------------------------------------------------------------


def test_iban_spaced_lowercase_with_a_bic_after_it() -> None:
    lines = ["IBAN: de89 3704 0044 0532 0130 00 BIC COBADEFFXXX"]
    match = only(lines, "iban")
    assert match.value == "DE89370400440532013000"
    assert match.details == {"country": "DE"}
    assert match.masked == "DE** **** **** **** **30 00"
    assert "3704" not in match.masked and "0532" not in match.masked
    assert spanned(lines, match) == "de89 3704 0044 0532 0130 00"


def test_iban_other_countries_and_no_spaces() -> None:
    assert only(["GB82WEST12345698765432"], "iban").value == "GB82WEST12345698765432"
    assert only(["FR14 2004 1010 0505 0001 3M02 606"], "iban").value == "FR1420041010050500013M02606"
    assert only(["NL91 ABNA 0417 1643 00"], "iban").value == "NL91ABNA0417164300"


@pytest.mark.parametrize(
    "text",
    ["DE89 3704 0044 0532 0130 01", "GB82 WEST 1234 5698 7654 33", "XX89 3704 0044 0532 0130 00"],
)
def test_iban_checksum_failures_are_rejected(text: str) -> None:
    assert of_type([text], "iban") == []


# --- machine-readable zones --------------------------------------------------------------------------


def test_icao_check_digits() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    assert check_digit("<<<<<<<<<") == "0"


def test_passport_mrz_specimen() -> None:
    found = find_pii(["PASSPORT", *PASSPORT])
    zone = next(m for m in found if m.type == "mrz")
    assert zone.line == 1 and zone.confidence >= 0.95
    assert zone.value == "\n".join(PASSPORT)
    fields = zone.details["fields"]
    assert isinstance(fields, dict)
    assert fields["document_type"] == "passport"
    assert fields["issuing_country"] == "UTO"
    assert fields["surname"] == "ERIKSSON"
    assert fields["given_names"] == "ANNA MARIA"
    assert fields["document_number"] == "L898902C3"
    assert fields["nationality"] == "UTO"
    assert fields["birth_date"] == "1974-08-12"
    assert fields["expiry_date"] == "2012-04-15"
    assert fields["sex"] == "F"
    assert fields["optional_data"] == "ZE184226B"
    assert zone.details["checks"] == {"personal_number": True, "composite": True}
    for secret in ("ERIKSSON", "ANNA", "MARIA", "L898902C3", "898902", "740812", "1974-08-12", "ZE184226B"):
        assert secret not in zone.masked
        assert secret not in str(zone.details["masked_fields"])
    assert "passport" in zone.masked and "UTO" in zone.masked


def test_mrz_birth_date_is_also_a_date_of_birth_match() -> None:
    lines = ["PASSPORT", *PASSPORT]
    births = of_type(lines, "date_of_birth")
    assert [(b.value, b.line, spanned(lines, b)) for b in births] == [("1974-08-12", 2, "740812")]
    assert births[0].details["source"] == "mrz"
    assert births[0].masked == "1974-**-**"


def test_passport_mrz_with_the_filler_read_as_k_and_o_for_zero() -> None:
    noisy = [
        "PKUTOERIKSSONKKANNAKMARIAKKKKKKKKKKKKKKKKKKK",
        "L898902C36UT07408122F12O4159ZE184226BKKKKK10",
    ]
    zone = only(noisy, "mrz")
    fields = zone.details["fields"]
    assert isinstance(fields, dict)
    assert fields["surname"] == "ERIKSSON"
    assert fields["document_number"] == "L898902C3"
    assert fields["nationality"] == "UTO"
    assert fields["expiry_date"] == "2012-04-15"
    assert zone.value.split("\n")[1] == PASSPORT[1]
    assert zone.confidence >= 0.95


def test_passport_mrz_with_spaces_and_guillemets() -> None:
    noisy = ["P<UTO ERIKSSON«ANNA<MARIA «««««««««", "L898902C3 6UTO7408122F 1204159ZE184226B««<10"]
    zone = only(noisy, "mrz")
    fields = zone.details["fields"]
    assert isinstance(fields, dict)
    assert (fields["surname"], fields["given_names"]) == ("ERIKSSON", "ANNA MARIA")
    assert zone.value.split("\n")[1] == PASSPORT[1]


def test_id_card_td1_specimen() -> None:
    zone = only(ID_CARD, "mrz")
    fields = zone.details["fields"]
    assert isinstance(fields, dict)
    assert zone.details["format"] == "TD1"
    assert fields["document_type"] == "id_card"
    assert fields["document_number"] == "D23145890"
    assert fields["surname"] == "ERIKSSON"
    assert fields["birth_date"] == "1974-08-12"
    assert "D23145890" not in zone.masked and "ERIKSSON" not in zone.masked
    assert "\n".join(ID_CARD)[zone.start : zone.end] == "\n".join(ID_CARD)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("L898902C37UTO7408122F1204159ZE184226B<<<<<10", "document number check digit"),
        ("L898902C36UTO7408132F1204159ZE184226B<<<<<10", "birth date check digit"),
        ("L898902C36UTO7408122F1204169ZE184226B<<<<<10", "expiry check digit"),
    ],
)
def test_mrz_check_digit_failures_are_rejected(line: str, why: str) -> None:
    assert of_type([PASSPORT[0], line], "mrz") == [], why


def test_mrz_with_only_the_composite_failing_has_lower_confidence() -> None:
    zone = only([PASSPORT[0], PASSPORT[1][:-1] + "9"], "mrz")
    assert zone.details["checks"] == {"personal_number": True, "composite": False}
    assert zone.confidence < 0.8


def test_id_card_with_a_bad_composite_is_still_reported_but_a_bad_number_is_not() -> None:
    assert only([ID_CARD[0], ID_CARD[1][:-1] + "7", ID_CARD[2]], "mrz").confidence < 0.8
    assert of_type([ID_CARD[0].replace("D231", "D232"), *ID_CARD[1:]], "mrz") == []


def test_lines_inside_an_mrz_are_not_reported_as_other_types() -> None:
    assert {m.type for m in find_pii(PASSPORT, "US")} == {"mrz", "date_of_birth"}


# --- addresses and postcodes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "region", "country", "street", "number", "postcode"),
    [
        (["221B Baker Street", "London NW1 6XE"], None, "GB", "Baker Street", "221B", "NW1 6XE"),
        (
            ["1600 Amphitheatre Parkway", "Mountain View, CA 94043"],
            None,
            "US",
            "Amphitheatre Parkway",
            "1600",
            "94043",
        ),
        (["350 Fifth Avenue", "New York, NY 10118-0110"], "US", "US", "Fifth Avenue", "350", "10118-0110"),
        (["Hauptstraße 5", "10115 Berlin"], "DE", "DE", "Hauptstraße", "5", "10115"),
        (["Karl-Marx-Allee 34, 10178 Berlin"], "DE", "DE", "Karl-Marx-Allee", "34", "10178"),
        (["12 rue de Rivoli", "75001 Paris"], "FR", "FR", "rue de Rivoli", "12", "75001"),
        (["Via Roma 10", "00184 Roma (RM)"], "IT", "IT", "Via Roma", "10", "00184"),
        (["Calle Mayor 5, 28013 Madrid"], "ES", "ES", "Calle Mayor", "5", "28013"),
        (["Keizersgracht 123", "1015 CJ Amsterdam"], None, "NL", "Keizersgracht", "123", "1015 CJ"),
        (["24 Sussex Drive", "Ottawa, ON K1M 1M4"], None, "CA", "Sussex Drive", "24", "K1M 1M4"),
        (["Level 3, 45 George Street", "Sydney NSW 2000"], "AU", "AU", "George Street", "45", "2000"),
        (["12 MG Road", "Bengaluru - 560001"], "IN", "IN", "MG Road", "12", "560001"),
    ],
)
def test_addresses_with_their_postcode_merged(
    lines: list[str], region: str | None, country: str, street: str, number: str, postcode: str
) -> None:
    found = [m for m in find_pii(lines, region) if m.type in {"address", "postcode"}]
    assert len(found) == 1 and found[0].type == "address", found
    match = found[0]
    assert match.details["country"] == country
    assert match.details["street"] == street
    assert match.details["house_number"] == number
    assert match.details["postcode"] == postcode
    assert match.confidence >= 0.8
    assert number not in match.masked and street not in match.masked
    text = spanned(lines, match)
    assert street in text and postcode in text and text.endswith(lines[-1].rstrip()[-3:])


def test_street_alone_is_an_address_without_postcode() -> None:
    match = only(["Flat 2", "10 Downing Street"], "address", "GB")
    assert match.line == 1
    assert match.details == {"country": "GB", "street": "Downing Street", "house_number": "10"}
    assert match.masked == "** D****** S*****"


@pytest.mark.parametrize(
    ("text", "region", "value", "country"),
    [
        ("London SW1A 1AA", None, "SW1A 1AA", "GB"),
        ("Springfield, IL 62701", None, "62701", "US"),
        ("10115 Berlin", "DE", "10115", "DE"),
        ("D-80331 München", None, "80331", "DE"),
        ("75008 Paris", "FR", "75008", "FR"),
        ("20121 Milano (MI)", "IT", "20121", "IT"),
        ("28013 Madrid", "ES", "28013", "ES"),
        ("1012 AB Amsterdam", None, "1012 AB", "NL"),
        ("Toronto ON M5V 3L9", None, "M5V 3L9", "CA"),
        ("Melbourne VIC 3000", None, "3000", "AU"),
        ("PIN: 110001", None, "110001", "IN"),
    ],
)
def test_postcodes_alone(text: str, region: str | None, value: str, country: str) -> None:
    match = only([text], "postcode", region)
    assert (match.value, match.details["country"]) == (value, country)
    assert match.masked != value and value not in match.masked


def test_five_digit_postcode_without_region_lists_its_candidates() -> None:
    match = only(["10115 Berlin"], "postcode")
    assert match.details["country"] is None
    assert match.details["candidates"] == ["DE", "FR", "IT", "ES"]
    assert match.details["city"] == "Berlin"


@pytest.mark.parametrize(
    "text",
    [
        "12345",
        "Order 12345 shipped",
        "10000 Steps Challenge",
        "Fix PR 29972, inconsistent format",
        "1080 HD ready",
        "2 Minute Drive",
        "Spring 2024 Collection",
        "S1E4M3 encoding",
    ],
)
def test_not_postcodes_or_addresses(text: str) -> None:
    for region in (None, "US", "DE", "NL", "CA"):
        assert [m for m in find_pii([text], region) if m.type in {"postcode", "address"}] == []


# --- dates of birth ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "region", "value"),
    [
        (["DOB: 12/08/1974"], None, "1974-08-12"),
        (["D.O.B. 08/12/1974"], "US", "1974-08-12"),
        (["Date of birth: 12 Aug 1974"], None, "1974-08-12"),
        (["Born on August 12, 1974 in Paris"], None, "1974-08-12"),
        (["Geburtsdatum: 12. März 1974"], "DE", "1974-03-12"),
        (["Née le 3 juillet 1980 à Lyon"], "FR", "1980-07-03"),
        (["Fecha de nacimiento: 12 de agosto de 1974"], "ES", "1974-08-12"),
        (["Data di nascita 12/08/1974"], "IT", "1974-08-12"),
        (["Geboortedatum 1974-08-12"], "NL", "1974-08-12"),
        (["Date of birth / Date de naissance", "12 AUG /AOÛT 74"], None, "1974-08-12"),
    ],
)
def test_labelled_dates_of_birth(lines: list[str], region: str | None, value: str) -> None:
    match = only(lines, "date_of_birth", region)
    assert match.value == value
    assert match.masked == value[:4] + "-**-**"
    assert match.line == len(lines) - 1


def test_unlabelled_and_impossible_dates_are_not_dates_of_birth() -> None:
    lines = ["Issued 12/08/2019", "Meeting on 12 Aug 1974", "DOB: 31/02/1980", "DOB: 12/08/2199"]
    assert of_type(lines, "date_of_birth") == []


# --- registration plates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "value", "country"),
    [
        ("AB12 CDE", None, "AB12 CDE", "GB"),
        ("GB  LR69 XKT", None, "LR69 XKT", "GB"),
        ("B-AB 1234", None, "B-AB 1234", "DE"),
        ("M AB 123", "DE", "M-AB 123", "DE"),
        ("AB-123-CD", None, "AB-123-CD", "FR"),
        ("GF-123-XK", "FR", "GF-123-XK", "FR"),
        ("12-ABC-3", None, "12-ABC-3", "NL"),
        ("1234 BCD", None, "1234 BCD", "ES"),
        ("AB 123CD", None, "AB 123CD", "IT"),
        ("Reg: ab12 cde", None, "AB12 CDE", "GB"),
        ("Kennzeichen: M XY 123 (Halter unbekannt)", None, "M-XY 123", "DE"),
    ],
)
def test_plates(text: str, region: str | None, value: str, country: str) -> None:
    match = only([text], "plate", region)
    assert (match.value, match.details["country"]) == (value, country)
    assert match.masked[:2] == value[:2] and "*" in match.masked
    assert value[3:] not in match.masked


@pytest.mark.parametrize("text", ["We parked the car AB12 CDE outside", "UP TO 50", "B AB 1234", "12-34-56"])
def test_plate_like_tokens_in_text_or_ambiguous_are_not_plates(text: str) -> None:
    assert of_type([text], "plate") == []


# --- the whole thing ---------------------------------------------------------------------------------


ORDINARY = [
    "The quick brown fox jumps over the lazy dog.",
    "We walked along the river and had lunch at a small cafe near the old bridge.",
    "Fresh coffee $3.50 | Croissant $2.25 | Total: $12.99",
    "Open daily 9:00 - 17:30, Sat 10am-4pm",
    "© 2023 Acme Inc. All rights reserved.",
    "Model XJ-2000 Serial 5XK-88-2001 SKU 4006381333931",
    "Version 3.2.1 released on 12/03/2024",
    "Order #12345 shipped in 3-5 business days",
    "Population 1,234,567 (2021 census)",
    "Room 101, Floor 3",
    "Price 1.299,00 € inkl. MwSt.",
    "50% off everything until Sunday!",
    "ISBN 978-3-16-148410-0",
    "Best before 2025-06-30 LOT 240611",
    "Meet me at 7.30 tonight, bring 2 friends",
    "Flight BA 287 departs 14:05 from gate B32",
    "Speed limit 30 mph, 2 mile drive to the beach",
    "Invoice 2024-0042 due in 30 days",
    "Temperature 21.5°C, humidity 45%",
    "Batch 20240611 EAN 5012345678900",
    "Its 20000 Leagues Under the Sea.",
    "Thank you for shopping with us",
    "UP TO 50% OFF",
    "SALE 2024",
]


@pytest.mark.parametrize("region", [None, "US", "GB", "DE", "FR", "IT", "ES", "NL", "CA", "AU", "IN"])
def test_ordinary_text_has_no_personal_data(region: str | None) -> None:
    assert find_pii(ORDINARY, region) == []


def test_a_mixed_photo_of_a_letter() -> None:
    lines = [
        "Jane Doe",
        "221B Baker Street",
        "London NW1 6XE",
        "Tel: +44 20 7946 0018",
        "jane.doe@example.com",
        "Date of birth: 12/08/1974",
        "IBAN GB82 WEST 1234 5698 7654 32",
    ]
    found = find_pii(lines, "GB")
    assert [(m.type, m.line) for m in found] == [
        ("name", 0),  # the addressee
        ("address", 1),
        ("phone", 3),
        ("email", 4),
        ("date_of_birth", 5),
        ("iban", 6),
    ]
    assert [m.start for m in found] == sorted(m.start for m in found)
    joined = "\n".join(lines)
    assert joined[found[1].start : found[1].end] == "221B Baker Street\nLondon NW1 6XE"
    for m in found:
        assert m.value not in m.masked
        assert 0.0 < m.confidence <= 1.0


def test_empty_input() -> None:
    assert find_pii([]) == []
    assert find_pii(["", "   "], "DE") == []


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        ("4242424242424242", "card", "**** **** **** 4242"),
        ("DE89370400440532013000", "iban", "DE** **** **** **** **30 00"),
        ("jane@example.com", "email", "j***@example.com"),
        ("+442079460890", "phone", "+44 **** ***890"),
        ("@jane_doe", "handle", "@j***"),
        ("1974-08-12", "date_of_birth", "1974-**-**"),
        ("NW1 6XE", "postcode", "NW1 ***"),
        ("10115", "postcode", "10***"),
        ("AB12 CDE", "plate", "AB** ***"),
    ],
)
def test_mask(value: str, kind: str, masked: str) -> None:
    assert mask(value, kind) == masked


def test_mask_of_an_mrz_value_hides_names_and_numbers() -> None:
    masked = mask("\n".join(PASSPORT), "mrz")
    assert masked == "passport MRZ UTO: E*** A*** M***, no. *******C3, born 1974-**-**"
    assert mask("not a zone", "mrz") == "MRZ ****"
