"""Storefront database: connection, migrations, seed data, queue and log queries."""
