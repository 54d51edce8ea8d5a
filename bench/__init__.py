"""Benchmarks of the service beside the library and physical limits measured in the same run (``make bench``)."""
