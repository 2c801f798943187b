"""Dagster layer: assets, sensors, schedules, checks and resources. Kept thin: the work
happens in kn_zoho.sync."""
