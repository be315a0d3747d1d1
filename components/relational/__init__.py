"""The relational state plane (ADR-0010): a CloudNativePG cluster per database owner, backups, recovery."""
