"""kn_zoho: keeps the KN Biosciences storefront (Supabase) and Zoho CRM/Books in step."""
