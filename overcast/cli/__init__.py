"""The ``overcast`` command: start, inspect and stop a cloud."""
