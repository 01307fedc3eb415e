"""The conductor's long-running work: building instances, evacuating hosts, recovering."""
