"""The volume service (Cinder v3): see docs/volumes.md."""
