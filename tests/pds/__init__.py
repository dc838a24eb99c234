"""A real Bluesky PDS for the adapter tests (``pds.server``; see its module doc)."""
