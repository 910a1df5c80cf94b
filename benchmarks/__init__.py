"""Side-by-side benchmarks: each ``bench_<area>.py`` compares SatCO2 Hub against the tool a
researcher would otherwise use, in one run, and prints the ratios the issues ask for.

Run all: ``make bench`` (``python -m benchmarks``); one: ``python -m benchmarks.bench_trends``.
Pass ``--small`` for a quick, reduced run. Benchmarks are measured, never asserted in tests.
"""
