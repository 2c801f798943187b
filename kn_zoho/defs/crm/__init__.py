"""Zoho CRM: contacts and leads."""
