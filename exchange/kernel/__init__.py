"""The kernel: what every package may use; it imports nothing else of the project."""
