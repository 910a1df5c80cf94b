"""Parameter validation: every error kind, coercion, the notebook-vs-schema defaults check, fuzzing."""
from __future__ import annotations

import datetime as dt
import re

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from satco2 import SatCO2Error
from satco2.runs import params
from satco2.runs.params import ParameterError


SCHEMA = {
    "region": {"type": "str", "default": "ecs", "choices_from": "regions"},
    "start": {"type": "date", "default": "2010-01"},
    "end": {"type": "date", "default": "2010-12", "after": "start", "min": "2000-01", "max": "2014-12"},
    "k_param": {"type": "str", "default": "W14", "choices": ["W14", "W92", "N00", "H06"]},
    "n_workers": {"type": "int", "default": 2, "min": 1, "max": 8},
    "scale": {"type": "float", "default": 0.5, "min": 0.0, "max": 1.0},
    "smooth": {"type": "bool", "default": False},
    "seas": {"type": "list[str]", "default": ["ecs"], "choices_from": "regions"},
    "levels": {"type": "list[float]", "default": [0.1, 0.2]},
    "obs_file": {"type": "path", "default": "", "required": False},
}

ONE_SENTENCE = re.compile(r"^[^\n]+\.$")


@pytest.fixture
def nb(nbdir, write_schema):
    write_schema(nbdir, "demo_nb", SCHEMA)
    return "demo_nb"


def test_defaults_are_typed(nb):
    p = params.validate(nb, {})
    assert p == {
        "region": "ecs", "start": "2010-01", "end": "2010-12", "k_param": "W14", "n_workers": 2,
        "scale": 0.5, "smooth": False, "seas": ["ecs"], "levels": [0.1, 0.2], "obs_file": "",
    }
    assert list(p) == list(SCHEMA)  # schema order


def test_picks_schema_names_from_globals_like_mapping(nb):
    g = {"__name__": "__main__", "np": object(), "n_workers": "4", "smooth": "yes", "levels": "0.5, 1",
         "seas": "ecs,changjiang_estuary", "start": dt.date(2010, 3, 1)}
    p = params.validate(nb, g)
    assert p["n_workers"] == 4 and p["smooth"] is True and p["levels"] == [0.5, 1.0]
    assert p["seas"] == ["ecs", "changjiang_estuary"] and p["start"] == "2010-03-01"


@pytest.mark.parametrize(
    "values, pattern",
    [
        ({"bogus": 1}, r"notebook 'demo_nb' has no parameter 'bogus'"),
        ({"n_workers": "two"}, r"parameter 'n_workers' .* must be an integer, not 'two'"),
        ({"n_workers": 2.5}, r"must be an integer"),
        ({"n_workers": True}, r"must be an integer"),
        ({"n_workers": 9}, r"'n_workers' .* must be at most 8, not 9"),
        ({"n_workers": 0}, r"must be at least 1"),
        ({"scale": "nan"}, r"'scale' .* must be a finite number"),
        ({"region": "atlantis"}, r"unknown region 'atlantis'; choose one of ecs, .*\(the names in regions\)"),
        ({"seas": ["ecs", "atlantis"]}, r"'seas' .* unknown region 'atlantis'"),
        ({"k_param": "W99"}, r"'k_param' .* unknown value 'W99'; choose one of W14, W92, N00, H06"),
        ({"start": "2010-13"}, r"'start' .* must be a real calendar date"),
        ({"start": "Jan 2010"}, r"must be a date written YYYY-MM or YYYY-MM-DD"),
        ({"end": "2015-01"}, r"'end' .* must be at most 2014-12"),
        ({"start": "2012-01", "end": "2011-12"}, r"'end' .* must not precede 'start'"),
        ({"smooth": "maybe"}, r"'smooth' .* must be true or false"),
        ({"obs_file": "/no/such/file.csv"}, r"'obs_file' .* names '/no/such/file.csv', which does not exist"),
        ({"levels": "a,b"}, r"'levels' .* must be a list of numbers"),
        ({"region": ""}, r"'region' .* is required but was empty"),
    ],
)
def test_errors_are_one_sentence(nb, values, pattern):
    with pytest.raises(ParameterError) as e:
        params.validate(nb, values, strict=True)
    msg = str(e.value)
    assert re.search(pattern, msg), msg
    assert ONE_SENTENCE.match(msg), msg
    assert isinstance(e.value, SatCO2Error)


def test_missing_required(nbdir, write_schema):
    write_schema(nbdir, "req", {"x": {"type": "int"}, "f": {"type": "path"}})
    with pytest.raises(ParameterError, match="'x' of notebook 'req' is required and has no default"):
        params.validate("req", {})
    with pytest.raises(ParameterError, match="'f' of notebook 'req' is required but was empty"):
        params.validate("req", {"x": 1, "f": ""})


def test_path_exists(nb, tmp_path):
    f = tmp_path / "obs.csv"
    f.write_text("time,lat,lon,pco2\n")
    assert params.validate(nb, {"obs_file": str(f)})["obs_file"] == str(f)


def test_unknown_notebook_and_bad_schema(nbdir, write_schema):
    with pytest.raises(ParameterError, match="notebook 'nope' declares no parameters"):
        params.validate("nope", {})
    write_schema(nbdir, "bad", {"x": {"type": "complex"}})
    with pytest.raises(ParameterError, match="has type 'complex'"):
        params.declared("bad")
    write_schema(nbdir, "typo", {"x": {"type": "int", "defualt": 1}})
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['defualt'\]"):
        params.declared("typo")
    # the schema file is checked against a JSON Schema (params.schema_file_schema): key types too
    write_schema(nbdir, "flag", {"x": {"type": "bool", "required": "no"}})
    with pytest.raises(ParameterError, match=r"parameter 'x' in .* has an invalid required: 'no' is not of type 'boolean'"):
        params.declared("flag")
    write_schema(nbdir, "src", {"x": {"type": "str", "choices_from": "planets"}})
    with pytest.raises(ParameterError, match="unknown source 'planets'"):
        params.declared("src")
    write_schema(nbdir, "bare", {"x": "int"})
    with pytest.raises(ParameterError, match="must be a mapping of keys such as type"):
        params.declared("bare")


def test_example_parameters(nbdir, write_schema):
    """``example:`` (what the published example runs with) names declared parameters only."""
    write_schema(nbdir, "ex", {"x": {"type": "int", "default": 300}}, example={"x": 10})
    assert params.example("ex") == {"x": 10} and params.defaults("ex") == {"x": 300}
    write_schema(nbdir, "noex", {"x": {"type": "int", "default": 300}})
    assert params.example("noex") == {}
    write_schema(nbdir, "badex", {"x": {"type": "int", "default": 300}}, example={"steps": 10})
    with pytest.raises(ParameterError, match=r"the example of .* sets undeclared parameter\(s\) \['steps'\]"):
        params.example("badex")


def test_every_shipped_example_is_valid():
    for nb in params.notebooks_dir().glob("*.params.yaml"):
        name = nb.name[: -len(".params.yaml")]
        params.validate(name, params.example(name))


def test_as_period():
    lo, hi = params.as_period("2010-02")
    assert (lo.day, hi.month, hi.day) == (1, 2, 28)


# --- the notebook's parameters cell must equal the schema defaults ---------------------------
def _notebook(path, source):
    nbk = nbformat.v4.new_notebook()
    nbk.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    nbformat.write(nbk, path)


def test_check_defaults(nbdir, write_schema):
    write_schema(nbdir, "cell", {"a": {"type": "int", "default": 2}, "d": {"type": "date", "default": "2010-01"}})
    _notebook(nbdir / "cell.ipynb", "a = 2\nd = '2010-01'  # first month\n")
    params.check_defaults("cell")
    _notebook(nbdir / "cell.ipynb", "a = 3\nd = '2010-01'\n")
    with pytest.raises(ParameterError, match="'a' of notebook 'cell' defaults to 2 in its schema but to 3"):
        params.check_defaults("cell")
    _notebook(nbdir / "cell.ipynb", "a = 2\n")
    with pytest.raises(ParameterError, match=r"missing from the cell: \['d'\]"):
        params.check_defaults("cell")


def test_every_repository_notebook_matches_its_schema(monkeypatch):
    """Every notebooks/*.params.yaml in the repository: schema loads, defaults validate (without the
    catalog), and the notebook's parameters cell equals the schema defaults."""
    monkeypatch.delenv("SATCO2_NOTEBOOKS_DIR", raising=False)
    schemas = sorted(params.notebooks_dir().glob("*.params.yaml"))
    assert schemas, "no notebook schemas in notebooks/"
    for s in schemas:
        name = s.name[: -len(".params.yaml")]
        params.validate(name, {}, check_coverage=False)
        params.check_defaults(name)


# --- fuzzing ---------------------------------------------------------------------------------
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.dates(),
    lambda children: st.lists(children, max_size=4),
    max_leaves=8,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(name=st.sampled_from(list(SCHEMA)), value=anything)
def test_fuzz_any_value_gives_typed_result_or_one_sentence(nb, name, value):
    try:
        out = params.validate(nb, {name: value})
    except ParameterError as e:
        assert f"'{name}'" in str(e) and ONE_SENTENCE.match(str(e)), str(e)
        return
    v = out[name]
    expected_type = {"str": str, "int": int, "float": float, "bool": bool, "date": str, "path": str,
                     "list[str]": list, "list[float]": list}[SCHEMA[name]["type"]]
    assert isinstance(v, expected_type)


@FUZZ
@given(n=st.integers(min_value=-10**6, max_value=10**6), as_text=st.booleans())
def test_fuzz_int_range(nb, n, as_text):
    value = str(n) if as_text else n
    if 1 <= n <= 8:
        assert params.validate(nb, {"n_workers": value})["n_workers"] == n
    else:
        with pytest.raises(ParameterError, match="must be at (least 1|most 8)"):
            params.validate(nb, {"n_workers": value})


@FUZZ
@given(d=st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)), month_only=st.booleans())
def test_fuzz_dates_round_trip(nb, d, month_only):
    text = f"{d.year:04d}-{d.month:02d}" if month_only else f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    if d <= dt.date(2014, 12, 31):
        assert params.validate(nb, {"start": text, "end": "2014-12"}, strict=True)["start"] == text
    else:
        with pytest.raises(ParameterError, match="'end' .* must not precede 'start'"):
            params.validate(nb, {"start": text, "end": "2014-12"}, strict=True)
    if 1678 < d.year < 2262:
        lo, hi = params.as_period(text)
        assert lo.year == d.year and lo.month == d.month and hi >= lo


# --- coverage_of against the real catalog (demo store) ---------------------------------------
def test_coverage_of_uses_the_catalog(nbdir, write_schema, demo_store):
    from satco2 import catalog

    start, end = (pd_ts(x) for x in catalog.coverage("global-sst-oisst-25km", source="demo"))
    write_schema(nbdir, "cov", {
        "start": {"type": "date", "default": f"{start:%Y-%m}", "coverage_of": ["global-sst-oisst-25km"]},
        "source": {"type": "str", "default": "demo", "choices": ["demo", "mirror"]},
    })
    assert params.validate("cov", {"start": f"{end:%Y-%m}"})["start"] == f"{end:%Y-%m}"
    before = f"{start.year - 1}-{start.month:02d}"
    with pytest.raises(ParameterError, match=rf"'start' of notebook 'cov' is {before}, outside the demo coverage "
                                             rf"of global-sst-oisst-25km \({start:%Y-%m-%d} to {end:%Y-%m-%d}\)\."):
        params.validate("cov", {"start": before})
    after = f"{end.year + 1}-{end.month:02d}-01"
    with pytest.raises(ParameterError, match="outside the demo coverage"):
        params.validate("cov", {"start": after})
    assert params.validate("cov", {"start": before}, check_coverage=False)["start"] == before


def pd_ts(x):
    import pandas as pd

    return pd.Timestamp(x)


def test_region_coverage_of_checks_every_input_before_the_run(nbdir, write_schema, demo_store):
    """A region outside what the source holds of an input fails at validation, in one sentence."""
    write_schema(nbdir, "reg", {
        "region": {"type": "str", "default": "ecs", "choices_from": "regions",
                   "coverage_of": ["global-sst-oisst-25km", "global-ssw-{wind}-25km"]},
        "seas": {"type": "list[str]", "default": ["east_china_sea"], "choices_from": "regions",
                 "coverage_of": ["global-sst-oisst-25km"]},
        "wind": {"type": "str", "default": "ccmp", "choices": ["ccmp", "windsat"]},
        "source": {"type": "str", "default": "demo", "choices": ["demo", "mirror", "upstream"]},
    })
    assert params.validate("reg", {})["region"] == "ecs"
    with pytest.raises(ParameterError, match=r"^parameter 'region' of notebook 'reg' is baltic_sea, which the demo "
                                             r"source does not cover for input global-ssw-ccmp-25km \(.*\); "
                                             r"choose a region inside its coverage or another source\.$"):
        params.validate("reg", {"region": "baltic_sea"})
    with pytest.raises(ParameterError, match="input global-ssw-windsat-25km"):  # the id follows the parameter
        params.validate("reg", {"region": "changjiang_estuary", "wind": "windsat"})
    assert params.validate("reg", {"seas": ["baltic_sea", "black_sea"], "region": "ecs"})["seas"][0] == "baltic_sea"
    # upstream: the registry's bbox decides (nothing is downloaded); global products cover everything
    assert params.validate("reg", {"region": "baltic_sea", "source": "upstream"})["source"] == "upstream"
    assert params.validate("reg", {"region": "baltic_sea"}, check_coverage=False)["region"] == "baltic_sea"


def test_pco2_flux_refuses_baltic_sea_at_validation(demo_store, monkeypatch):
    """`satco2 run pco2_flux -p region baltic_sea` fails before anything runs (the demo has no SSS there)."""
    monkeypatch.delenv("SATCO2_NOTEBOOKS_DIR", raising=False)
    with pytest.raises(ParameterError, match="'region' of notebook 'pco2_flux' is baltic_sea, which the demo source "
                                             "does not cover for input global-sss-smos-25km"):
        params.validate("pco2_flux", {"region": "baltic_sea"}, strict=True)
