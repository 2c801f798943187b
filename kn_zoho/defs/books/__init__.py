"""Zoho Books: items, invoices with payments, estimates."""
