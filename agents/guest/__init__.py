"""What runs inside a guest: its init script and the config drive it reads."""
