"""The flows: pick due work from the queue, map it, call Zoho, record each outcome.

Plain Python taking an engine and Zoho clients (no Dagster imports), so the same code runs in
a Dagster asset, from `kn-zoho sync`, and in tests.
"""
