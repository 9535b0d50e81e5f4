"""The big-data hub: entities, devices, observations, ingest and queries."""
