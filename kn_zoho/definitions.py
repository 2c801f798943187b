"""The Dagster code location: `dagster dev -w workspace.yaml` loads this module."""

from dagster import Definitions

defs = Definitions()
