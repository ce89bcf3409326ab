"""Benchmarks: ``python -m benchmarks [entry …]``. Each figure is printed beside a baseline run in the
same process, as a ratio. They are not tests: CI times nothing."""
