"""Text in photos: OCR, personal data in its lines, machine-readable zones, brands and their lexicon."""
