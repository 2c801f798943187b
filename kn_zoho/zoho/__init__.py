"""Zoho API clients: OAuth token store, HTTP (rate limit, retry, errors), CRM and Books."""
