"""Text in photos: personal data found in OCR lines (no OCR or image code here)."""
