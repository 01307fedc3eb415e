"""Overcast shared library: bus, gRPC, config, logging, database and service lifecycle."""
