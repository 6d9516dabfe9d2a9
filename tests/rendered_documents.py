"""The rendered set of issue #16, drawn by ``document_renderer``: form screenshots, letters and
medical-style burned-in headers at 12, 16, 24 and 40 px (12 px on 3000 px images too), US, UK and
DE phone numbers written without their country code, links as PP-OCR misreads them ("nttps://",
".c0m"), each line with the findings it must give; and ``NEGATIVES``, ordinary text that must give
none. No file has GPS: a national number is read in the page's home country, or after its label.

Names, numbers and addresses are the usual fictitious ones (555-01xx, example.com).
"""

from __future__ import annotations

from tests.document_renderer import (
    CAMERA_SHOT,
    GREY_PAPER,
    PAPER,
    PHONE_SHOT,
    SCREEN,
    STREET,
    XRAY,
    Document,
    Expected,
    Page,
    missed,
    write,
)

__all__ = ["DOCUMENTS", "NEGATIVES", "POSITIVES", "Document", "Expected", "missed", "write"]

FORMS = (
    Page("form_us_screen_16px", (1280, 800), SCREEN, 16, "US").drawn("""
        @ 0.2 0.15
        Name: Jane Doe                   => name=Jane Doe
        Date of birth: 04/11/1962        => date_of_birth=1962-04-11
        Sex: F                           => sex=female
        Phone: (617) 555-0142            => phone=+16175550142
        E-mail: jane.doe@example.com     => email=jane.doe@example.com
        Address: 42 Elm Street           => address=42 Elm Street
        City: Springfield                => place=Springfield
        ZIP: 62704                       => postcode=62704
    """),
    Page("form_uk_screen_24px", (1920, 1080), SCREEN, 24, "GB").drawn("""
        @ 0.2 0.12
        Full name: Oliver Bennett        => name=Oliver Bennett
        Date of birth: 14/03/1987        => date_of_birth=1987-03-14
        Mobile: 07911 123456             => phone=+447911123456
        E-mail: o.bennett@example.co.uk  => email=o.bennett@example.co.uk
        Address: 10 Downing Street       => address=10 Downing Street
        Town: Manchester                 => place=Manchester
        Postcode: M1 1AE                 => postcode=M1 1AE
    """),
    Page("form_de_paper_40px", (1600, 1200), GREY_PAPER, 40, "DE").drawn("""
        Vorname: Lukas                   => name=Lukas
        Nachname: Schneider              => name=Schneider
        Geburtsdatum: 21.07.1990         => date_of_birth=1990-07-21
        Geschlecht: männlich             => sex=male
        Telefon: 030 12345678            => phone=+493012345678
        PLZ / Ort: 20095 Hamburg         => postcode=20095; place=Hamburg
    """),
    # No home country: the phone label makes the UK number count.
    Page("form_scan_12px", (3000, 2000), CAMERA_SHOT, 12).drawn("""
        @ 0.3 0.35
        Name: Maria Garcia               => name=Maria Garcia
        Date of birth: 1985-06-30        => date_of_birth=1985-06-30
        Place of birth: Madrid           => place=Madrid
        Tel: 020 7946 0958               => phone=+442079460958
        Email: maria.garcia@example.org  => email=maria.garcia@example.org
    """),
)

LETTERS = (
    Page("letter_uk_paper_16px", (2000, 2800), PAPER, 16, "GB").drawn("""
        @ 0.62 0.06
        Margaret Holloway                => name=Margaret Holloway
        14 Kingsley Road                 => address=14 Kingsley Road
        Leeds LS6 2AB                    => postcode=LS6 2AB
        Tel 0113 496 0123                => phone=+441134960123
        @ 0.1 0.2
        Date: 12 March 2024              => date=2024-03-12

        Dear Mr Whitfield,               => name=Whitfield
        Thank you for your letter about the garden wall.
        I am happy to share the cost of the repair.

        Kind regards,
        Margaret Holloway
    """),
    Page("letter_us_scan_12px", (3000, 3900), PAPER, 12, "US").drawn("""
        @ 0.1 0.05
        Robert Miller                    => name=Robert Miller
        1600 Oak Avenue                  => address=1600 Oak Avenue
        Springfield, IL 62704            => postcode=62704
        Phone: (217) 555-0199            => phone=+12175550199

        Date: March 12, 2024             => date=2024-03-12

        Dear Ms. Carter,                 => name=Carter
        Please find the signed lease enclosed.

        Sincerely,
        Robert Miller
    """),
    # A letter on a table, photographed and exported without its metadata.
    Page("letter_de_photo_24px", (1600, 1200), STREET, 24, "DE").drawn("""
        @ 0.1 0.08
        Anna Becker                      => name=Anna Becker
        Hauptstraße 12                   => address=Hauptstraße 12
        10115 Berlin                     => postcode=10115
        Telefon 030 2345678              => phone=+49302345678
        Datum: 12.03.2024                => date=2024-03-12
        Sehr geehrte Frau Becker,        => name=Becker
        vielen Dank für Ihren Brief.
    """),
)

MEDICAL = (
    Page("medical_xray_24px", (1400, 1400), XRAY, 24, "US").drawn("""
        @ 0.03 0.03
        PATIENT: DOE, JANE  DOB: 04/11/1962  SEX: F  => name=DOE, JANE; date_of_birth=1962-04-11; sex=female
        EXAM DATE: 2024-01-15                        => date=2024-01-15
        St. Mary's Hospital, Boston                  => place=Boston
    """),
    Page("medical_xray_3000_12px", (3000, 2400), XRAY, 12, "US").drawn("""
        @ 0.02 0.02
        PATIENT: DOE, JANE               => name=DOE, JANE
        DOB: 04/11/1962  SEX: F          => date_of_birth=1962-04-11; sex=female
        @ 0.8 0.02
        St. Mary's Hospital, Boston, MA  => place=Boston
        EXAM DATE: 2024-01-15            => date=2024-01-15
    """),
    Page("medical_ct_16px", (1600, 1200), XRAY, 16).drawn("""
        @ 0.02 0.02
        PATIENT: SMITH, JOHN             => name=SMITH, JOHN
        DOB: 1955-09-02  SEX: M          => date_of_birth=1955-09-02; sex=male
        @ 0.7 0.02
        Mercy Hospital, Springfield, IL  => place=Springfield
        EXAM DATE: 2023-11-30            => date=2023-11-30
    """),
)

LINKS = (
    Page("link_screen_24px", (1280, 800), SCREEN, 24).drawn("""
        @ 0.2 0.2
        Sign the agreement at https://cla.microsoft.com  => url=https://cla.microsoft.com
        More at https://github.com/shadowlens            => url=https://github.com/shadowlens
    """),
    # What PP-OCR reads for "https" and ".com" at times, rendered as such: the repair must undo it.
    Page("link_misread_screen_24px", (1280, 800), SCREEN, 24).drawn("""
        @ 0.2 0.2
        nttps://cla.microsoft.com               => url=https://cla.microsoft.com
        Docs: nttps://docs.example.c0m/start    => url=https://docs.example.com/start
    """),
    Page("link_photo_16px", (1280, 960), PHONE_SHOT, 16).drawn("""
        @ 0.3 0.4
        Sign at https://cla.microsoft.com       => url=https://cla.microsoft.com
        nttps://cla.microsoft.com               => url=https://cla.microsoft.com
    """),
)

PHONES = (
    Page("phone_us_photo_40px", (1280, 960), STREET, 40, "US").drawn("""
        Call (212) 555-0142              => phone=+12125550142
        Text 415-555-0123                => phone=+14155550123
    """),
    Page("phone_uk_photo_24px", (1280, 960), PHONE_SHOT, 24, "GB").drawn("""
        Ring 020 7946 0958               => phone=+442079460958
        Mobile 07911 123456              => phone=+447911123456
    """),
    Page("phone_de_paper_16px", (1200, 900), GREY_PAPER, 16, "DE").drawn("""
        Rufen Sie uns an: 030 12345678   => phone=+493012345678
        Handy 0151 23456789              => phone=+4915123456789
    """),
    # No home country: a phone label lets a number valid in a common country count.
    Page("phone_labelled_screen_16px", (1280, 800), SCREEN, 16).drawn("""
        @ 0.2 0.2
        Tel: 020 7946 0958               => phone=+442079460958
        Phone: (212) 555-0142            => phone=+12125550142
        Telefon: 089 1234567             => phone=+49891234567
    """),
    Page("phone_card_scan_12px", (3000, 1800), PAPER, 12, "US").drawn("""
        @ 0.55 0.6
        Dr. Emily Chen                   => name=Emily Chen
        Riverside Dental Clinic
        Phone (312) 555-0176             => phone=+13125550176
        Fax (312) 555-0177               => phone=+13125550177
    """),
)

# Ordinary text: no finding at all. The words are what photos hold, not picked to dodge the
# detector ("Washington Street", "Grace Church", "Earl Grey", "Paris 12 km", prices, times,
# versions), and most pages have a home country, which makes prices and codes likelier phones.
NEGATIVES = (
    Page("negative_bakery_sign_40px", (1280, 960), STREET, 40, "US").drawn("""
        BAKERY
        Fresh bread daily
        Open 7 days 7am - 6pm
    """),
    Page("negative_menu_24px", (1200, 1600), PAPER, 24, "GB").drawn("""
        MENU
        Earl Grey tea 3.50
        Caesar salad 8.90
        Shirley Temple 4.50
        Apple pie with cream 4.20
        Soup of the day 5.60
    """),
    Page("negative_receipt_16px", (800, 1400), PAPER, 16, "US").drawn("""
        FRESH MART
        Store 1042  Till 3
        Milk 2L            1.29
        Bread              2.49
        Bananas 1.2 kg     0.99
        TOTAL              4.77
        CASH               5.00
        CHANGE             0.23
        Thank you for shopping with us
    """),
    Page("negative_olive_oil_label_24px", (1200, 900), GREY_PAPER, 24, "DE").drawn("""
        Organic Olive Oil
        Extra virgin, cold pressed
        500 ml  Lot 230915
        Best before 12/2026
        Product of Italy
    """),
    Page("negative_street_sign_40px", (1280, 960), PHONE_SHOT, 40, "US").drawn("""
        @ 0.2 0.3
        Washington Street
    """),
    Page("negative_headline_40px", (1600, 1000), PAPER, 40, "US").drawn("""
        Storm hits the coast overnight
        Thousands without power as winds reach 90 mph
    """),
    Page("negative_timetable_16px", (1280, 800), SCREEN, 16, "GB").drawn("""
        @ 0.2 0.15
        Platform 2
        08:15  Express to Central  On time
        08:42  Local               Delayed 5 min
        09:10  Express to Central  On time
        09:35  Local               Cancelled
    """),
    Page("negative_road_sign_40px", (1280, 960), STREET, 40, "FR").drawn("""
        @ 0.3 0.2
        Paris 12 km
        Orleans 118 km
    """),
    Page("negative_notice_board_24px", (1280, 960), CAMERA_SHOT, 24, "GB").drawn("""
        Grace Church
        Sunday service 10:30
        Choir practice Thursday 19:00
        All welcome
    """),
    Page("negative_parking_sign_24px", (1280, 960), STREET, 24, "US").drawn("""
        @ 0.4 0.3
        Parking 2 hours
        Mon - Sat 8am - 6pm
        Permit holders only
    """),
    Page("negative_sale_poster_40px", (1280, 960), PHONE_SHOT, 40, "GB").drawn("""
        SALE
        Up to 50% off
        Everything must go
    """),
    Page("negative_park_sign_16px", (1280, 960), CAMERA_SHOT, 16, "GB").drawn("""
        @ 0.3 0.3
        Victoria Park
        Opening hours 9:00 - 17:00
        Cafe and toilets near the lake
    """),
    Page("negative_settings_screen_16px", (1280, 800), SCREEN, 16, "DE").drawn("""
        @ 0.2 0.15
        Settings
        Wi-Fi              Connected
        Bluetooth          Off
        Battery            82%
        Storage            41.2 GB of 128 GB
        Version 2.13.90
    """),
    Page("negative_can_scan_12px", (3000, 2000), PAPER, 12, "GB").drawn("""
        @ 0.2 0.4
        Ingredients: carbonated water, sugar, lemon juice, natural flavourings.
        Store in a cool, dry place. Once opened, keep refrigerated.
        Net 330 ml  Serving 100 ml: energy 180 kJ / 42 kcal
    """),
)

POSITIVES = FORMS + LETTERS + MEDICAL + LINKS + PHONES
DOCUMENTS = POSITIVES + NEGATIVES
