"""Barcodes and QR codes: what their payloads give away (Wi-Fi passwords, contacts, boarding passes)."""
