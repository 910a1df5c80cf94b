"""Smoke tests of the benchmarks that issue 19 rebuilt: each runs end to end on tiny sizes, one
round, so that it cannot rot. No timing is asserted (benchmarks are measured, never asserted);
what is checked is that each prints its ratio lines in the wording runs compare over time, and
the load average and thread settings at the start and the end."""
from __future__ import annotations

import re

import pytest

from benchmarks import _measure, bench_flux, bench_ingest, bench_trends


def _conditions(out: str) -> None:
    assert re.search(r"\[start\] .* load average [\d.]+ [\d.]+ [\d.]+", out)
    assert re.search(r"\[end\] .* load average [\d.]+ [\d.]+ [\d.]+", out)
    assert "numba threads=" in out and "CPUs usable" in out


def test_interleaved_rounds_alternate_sides_and_pick_their_number():
    order = []
    res = _measure.interleaved({"a": lambda r: order.append(("a", r)), "b": lambda r: order.append(("b", r))},
                               verbose=False)
    # quick sides: 5 rounds, alternating a, b, a, b, ...
    assert order == [(k, r) for r in range(5) for k in ("a", "b")]
    assert all(len(t.wall) == 5 and len(t.cpu) == 5 for t in res.values())
    assert _measure.repeats(10.0) == 3 and _measure.repeats(1.0) == 5 and _measure.repeats(10.0, 4) == 4


def test_bench_flux_runs_on_a_tiny_grid(tmp_path, capsys):
    bench_flux.main(["--step", "1.0", "--months", "2", "--rounds", "1", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    _conditions(out)
    assert re.search(r"RATIO seaflux/satco2 \(same flux computation, same inputs\) = [\d.]+x wall", out)
    assert re.search(r"flux stage, disk to disk .* -> ratio [\d.]+x wall", out)
    diff = float(re.search(r"K0/\(P-pH2O\) factor = ([\d.e+-]+) mmol", out).group(1))
    assert diff < 1e-3  # the same computation as seaflux's (float32 outputs)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bench_trends_runs_on_a_tiny_cube(tmp_path, capsys):
    bench_trends.main(["--shape", "24", "6", "8", "--big", "6", "8", "--pmk-pixels", "4", "--rounds", "1",
                       "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    _conditions(out)
    assert len(re.findall(r"ratio to pymannkendall = \d+x", out)) == 2
    assert re.search(r"ratio cdo / satco2 streamed = [\d.]+x", out) or "cdo not installed" in out


def test_bench_ingest_runs_on_tiny_files(tmp_path, capsys):
    bench_ingest.main(["--small", "--nlat", "72", "--repeat", "1", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    _conditions(out)
    assert len(re.findall(r"ratio open_mfdataset\.to_zarr, .* / satco2 ingest: +[\d.]+x", out)) == 2
    assert re.search(r"ingest reaches [\d.]+ % of it", out)
