"""Benchmarks of the exchange service, run by hand or with `make bench`."""
