"""Books workflow-rule webhooks that ask for an early stock pull (`kn-zoho webhooks serve`)."""
