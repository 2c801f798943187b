"""Pure functions: storefront rows -> Zoho payloads, GST rules, validation."""
