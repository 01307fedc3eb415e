"""A storage node (``storage-N``): object replicas, listing databases, and the daemons that
keep them healthy (replicator, auditor, updater)."""
