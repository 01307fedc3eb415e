"""The conductor: owns the compute database and drives every instance through its states."""
