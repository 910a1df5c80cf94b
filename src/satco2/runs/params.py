"""Declared notebook parameters: schema loading, typing/coercion and validation.

A notebook ``notebooks/<name>.ipynb`` declares its parameters in ``notebooks/<name>.params.yaml``::

    title: MeSAA pCO2 and air-sea CO2 flux
    description: one paragraph shown in forms and dashboard listings
    parameters:
      region:   {type: str, default: ecs, choices_from: regions, help: "a name in catalogs/regions.yaml"}
      start:    {type: date, default: "2010-01", coverage_of: [global-sst-oisst-25km]}
      end:      {type: date, default: "2010-12", coverage_of: [global-sst-oisst-25km], after: start}
      k_param:  {type: str, default: W14, choices: [W14, W92, N00, H06]}
      n_workers: {type: int, default: 2, min: 1, max: 8}
      obs_file: {type: path, default: "", required: false}

Keys of a parameter:

- ``type`` (required): one of :data:`TYPES` — ``str``, ``int``, ``float``, ``bool``, ``date``
  (``YYYY-MM`` or ``YYYY-MM-DD``), ``path``, ``list[str]``, ``list[int]``, ``list[float]``;
- ``default``: the value when none is given (equal to the notebook's parameters cell, see
  :func:`check_defaults`); without a default the parameter must be given;
- ``required`` (default ``true``): an empty value (``""``, ``[]``, ``None``) is refused;
- ``choices``: allowed values; ``choices_from``: a name of :data:`CHOICE_SOURCES` (``regions``:
  the names in ``catalogs/regions.yaml``; ``products``: the product ids of the registry);
  for list types every element is checked;
- ``min`` / ``max``: inclusive bounds of numbers (every element of a numeric list), or of dates;
- ``coverage_of``: product ids; a date must lie within ``satco2.catalog.coverage(pid, source)``
  for each, and a region (a ``choices_from: regions`` parameter, or each region of a list) must
  lie in what ``source`` holds of each (its bounding box opens with ``satco2.catalog.open``, lazily;
  for ``upstream`` the registry's bbox), where ``source`` is the value of a parameter named
  ``source`` if the schema declares one, else ``"demo"``; an id may name other parameters in
  braces (``global-ssw-{wind_product}-25km``);
- ``after``: the name of another date parameter this one may not precede;
- ``exists`` (paths only, default ``true``): a non-empty path must exist;
- ``help``: one line shown in forms.

Validated values are plain JSON-serialisable Python objects. Dates are returned as normalised ISO
strings (``"2010-01"`` or ``"2010-01-15"``), which xarray's partial-string indexing treats as whole
periods: ``ds.sel(time=slice(P["start"], P["end"]))`` includes all of the end month. Use
:func:`as_period` for the ``(first, last)`` timestamps of a date value.

Every problem raises :class:`ParameterError` (a :class:`satco2.SatCO2Error`) with one sentence
naming the notebook, the parameter and the value.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import SatCO2Error, catalog, config
from ..catalog import registry
from ..config import REPO_ROOT
from ..science import regions

__all__ = [
    "ParameterError",
    "TYPES",
    "CHOICE_SOURCES",
    "notebooks_dir",
    "schema",
    "declared",
    "defaults",
    "validate",
    "check_defaults",
    "notebook_defaults",
    "as_period",
]


class ParameterError(SatCO2Error):
    """A notebook parameter (or its schema) is invalid; the message is one sentence."""


_MISSING = object()
SPEC_KEYS = {
    "type", "default", "required", "choices", "choices_from", "min", "max", "coverage_of",
    "after", "exists", "help",
}


# ----------------------------------------------------------------------------------------------
# locations
def notebooks_dir() -> Path:
    """Folder of the notebooks and their ``.params.yaml`` schemas (``$SATCO2_NOTEBOOKS_DIR`` or
    ``notebooks/`` in the repository)."""
    return config.notebooks_dir()


def _schema_path(name: str | os.PathLike) -> tuple[str, Path]:
    """(notebook name, schema path) of a notebook name or a path to its ``.ipynb``/``.params.yaml``."""
    s = str(name)
    if s.endswith(".params.yaml"):
        p = Path(s)
        return p.name[: -len(".params.yaml")], p
    if s.endswith(".ipynb") or os.sep in s or "/" in s:
        p = Path(s)
        stem = p.name[: -len(".ipynb")] if p.name.endswith(".ipynb") else p.name
        return stem, p.with_name(stem + ".params.yaml")
    return s, notebooks_dir() / f"{s}.params.yaml"


# ----------------------------------------------------------------------------------------------
# choice sources (registry: name -> function returning the allowed names)
def _region_names() -> list[str]:
    try:
        return regions.names()
    except SatCO2Error as e:
        raise ParameterError(f"cannot read the region list: {e}") from None


def _product_ids() -> list[str]:
    try:
        return registry.ids()
    except SatCO2Error as e:
        raise ParameterError(f"cannot read the product registry: {e}") from None


CHOICE_SOURCES: dict[str, Callable[[], list[str]]] = {
    "regions": _region_names,
    "products": _product_ids,
}


# ----------------------------------------------------------------------------------------------
# coercion (registry: type name -> function(value) -> typed value, raising ValueError)
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)) and not isinstance(v, bool):
        return str(v)
    raise ValueError("a text value")


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("an integer")
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
    raise ValueError("an integer")


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("a number")
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            raise ValueError("a number") from None
    else:
        raise ValueError("a number")
    if not math.isfinite(f):
        raise ValueError("a finite number")
    return f


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError("true or false")


def _to_date(v: Any) -> str:
    import datetime as _dt

    if isinstance(v, _dt.datetime):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, str):
        m = _DATE_RE.match(v.strip())
        if m:
            y, mo, d = int(m[1]), int(m[2]), m[3]
            try:
                _dt.date(y, mo, int(d) if d else 1)
            except ValueError:
                raise ValueError("a real calendar date (YYYY-MM or YYYY-MM-DD)") from None
            return v.strip()
    raise ValueError("a date written YYYY-MM or YYYY-MM-DD")


def _to_path(v: Any) -> str:
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, str):
        return v
    raise ValueError("a file path")


def _list_of(item: Callable[[Any], Any], what: str) -> Callable[[Any], list]:
    def coerce(v: Any) -> list:
        if isinstance(v, str):
            s = v.strip()
            if s.startswith("["):
                try:
                    v = yaml.safe_load(s)
                except yaml.YAMLError:
                    raise ValueError(f"a list of {what}") from None
            else:
                v = [x.strip() for x in s.split(",")] if s else []
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"a list of {what}")
        try:
            return [item(x) for x in v]
        except ValueError:
            raise ValueError(f"a list of {what}") from None

    return coerce


TYPES: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "date": _to_date,
    "path": _to_path,
    "list[str]": _list_of(_to_str, "texts"),
    "list[int]": _list_of(_to_int, "integers"),
    "list[float]": _list_of(_to_float, "numbers"),
}


def as_period(value: str):
    """``(first, last)`` :class:`pandas.Timestamp` of a validated date value: a ``YYYY-MM`` value
    spans its whole month (last = the final nanosecond of the month), ``YYYY-MM-DD`` its day."""
    import pandas as pd

    p = pd.Period(value, freq="M" if len(value) == 7 else "D")
    return p.start_time, p.end_time


def _span(value: str):
    """``(first, last)`` :class:`datetime.date` of a validated date value (any year)."""
    import calendar
    import datetime as _dt

    y, m = int(value[:4]), int(value[5:7])
    if len(value) == 7:
        return _dt.date(y, m, 1), _dt.date(y, m, calendar.monthrange(y, m)[1])
    d = _dt.date(y, m, int(value[8:10]))
    return d, d


# ----------------------------------------------------------------------------------------------
# schema
def _show(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


@lru_cache(maxsize=64)
def schema_file_schema() -> dict:
    """The JSON Schema of a ``<notebook>.params.yaml`` file (checked with jsonschema)."""
    spec = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"enum": list(TYPES)},
            "default": {}, "min": {}, "max": {}, "choices": {"type": "array"},
            "choices_from": {"enum": list(CHOICE_SOURCES)},
            "coverage_of": {"type": ["string", "array"], "items": {"type": "string"}},
            "after": {"type": "string"},
            "required": {"type": "boolean"}, "exists": {"type": "boolean"},
            "help": {"type": "string"},
        },
    }
    assert set(spec["properties"]) == SPEC_KEYS
    return {
        "type": "object",
        "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                       "parameters": {"type": ["object", "null"], "additionalProperties": spec},
                       "example": {"type": ["object", "null"]}},
    }


def _check_schema_file(data: Any, path: str) -> None:
    """Check a parameter schema file against :func:`schema_file_schema`; the first problem becomes
    one sentence naming the parameter and the key."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema_file_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    e = errors[0]
    where = list(e.absolute_path)
    if len(where) < 2 or where[0] != "parameters":
        if where and where[0] in ("title", "description"):
            raise ParameterError(f"the {where[0]} in the parameter schema {path} must be text, not {e.instance!r}.")
        raise ParameterError(f"the parameter schema {path} must be a mapping with a 'parameters' mapping.")
    pname, spec = where[1], data["parameters"][where[1]]
    key = where[2] if len(where) > 2 else None
    if key is None and e.validator == "type":
        raise ParameterError(f"parameter '{pname}' in {path} must be a mapping of keys such as type and default.")
    if key is None and e.validator == "additionalProperties":
        unknown = set(spec) - SPEC_KEYS
        raise ParameterError(f"parameter '{pname}' in {path} has unknown key(s) {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}.")
    if key == "type" or (key is None and e.validator == "required"):
        raise ParameterError(f"parameter '{pname}' in {path} has type {spec.get('type')!r}, not one of {list(TYPES)}.")
    if key == "choices_from":
        raise ParameterError(f"parameter '{pname}' in {path} takes choices from unknown source {spec['choices_from']!r}; known: {list(CHOICE_SOURCES)}.")
    raise ParameterError(f"parameter '{pname}' in {path} has an invalid {key}: {e.message}.")


def _load_schema(path: str, mtime: float) -> dict:
    try:
        data = config.load_yaml(path, "parameter schema")
    except SatCO2Error as e:
        raise ParameterError(str(e)) from None
    _check_schema_file(data, path)
    params = data.get("parameters") or {}
    for pname, spec in params.items():
        if "after" in spec and spec["after"] not in params:
            raise ParameterError(f"parameter '{pname}' in {path} must come after undeclared parameter {spec['after']!r}.")
        if isinstance(spec.get("coverage_of"), str):
            spec["coverage_of"] = [spec["coverage_of"]]
    example = data.get("example") or {}
    unknown = sorted(set(example) - set(params))
    if unknown:
        raise ParameterError(f"the example of {path} sets undeclared parameter(s) {unknown}.")
    data["example"] = example
    data.setdefault("title", Path(path).name[: -len(".params.yaml")])
    data.setdefault("description", "")
    data["parameters"] = params
    return data


def schema(name: str | os.PathLike) -> dict:
    """The parsed schema ``{title, description, parameters: {name: spec}}`` of a notebook (a name in
    :func:`notebooks_dir` or a path to the ``.ipynb``/``.params.yaml``)."""
    nb, path = _schema_path(name)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise ParameterError(f"notebook '{nb}' declares no parameters: {path} does not exist.") from None
    data = _load_schema(str(path), mtime)
    return json.loads(json.dumps(data, default=str))  # a private copy


def declared(name: str | os.PathLike) -> dict[str, dict]:
    """The declared parameters ``{name: spec}`` of a notebook, in schema order."""
    return schema(name)["parameters"]


def example(name: str | os.PathLike) -> dict[str, Any]:
    """The parameters the published example of a notebook runs with (``example:`` in its
    ``.params.yaml``, over the defaults): lighter settings so that the example dashboards appear
    within minutes of the first ``make up``; validated like any run's parameters."""
    return dict(schema(name)["example"])


def defaults(name: str | os.PathLike) -> dict[str, Any]:
    """The schema defaults of a notebook, typed (parameters without default are left out)."""
    nb, _ = _schema_path(name)
    out = {}
    for pname, spec in declared(name).items():
        if "default" in spec:
            out[pname] = _coerce(nb, pname, spec, spec["default"])
    return out


# ----------------------------------------------------------------------------------------------
# validation
def _coerce(nb: str, pname: str, spec: dict, value: Any) -> Any:
    try:
        return TYPES[spec["type"]](value)
    except ValueError as e:
        raise ParameterError(f"parameter '{pname}' of notebook '{nb}' must be {e}, not {_show(value)}.") from None


def _is_empty(v: Any) -> bool:
    return v is None or (isinstance(v, (str, list)) and len(v) == 0)


def _check_one(nb: str, pname: str, spec: dict, value: Any) -> Any:
    required = spec.get("required", True)
    if value is None or (isinstance(value, str) and value == "" and spec["type"] != "str"):
        if required:
            raise ParameterError(f"parameter '{pname}' of notebook '{nb}' is required but was empty.")
        return "" if spec["type"] in ("str", "path", "date") else None
    v = _coerce(nb, pname, spec, value)
    if _is_empty(v):
        if required:
            raise ParameterError(f"parameter '{pname}' of notebook '{nb}' is required but was empty.")
        return v
    items = v if isinstance(v, list) else [v]
    allowed = spec.get("choices")
    if allowed is None and "choices_from" in spec:
        allowed = CHOICE_SOURCES[spec["choices_from"]]()
    if allowed is not None:
        allowed_typed = [TYPES[spec["type"].removeprefix("list[").removesuffix("]")](a) for a in allowed]
        for it in items:
            if it not in allowed_typed:
                src = f" (the names in {spec['choices_from']})" if "choices_from" in spec else ""
                what = "region" if spec.get("choices_from") == "regions" else "value"
                raise ParameterError(
                    f"parameter '{pname}' of notebook '{nb}' has unknown {what} {_show(it)}; "
                    f"choose one of {', '.join(map(str, allowed_typed))}{src}."
                )
    for bound, bad in (("min", lambda x, b: x < b), ("max", lambda x, b: x > b)):
        if bound in spec:
            b = spec[bound]
            for it in items:
                if spec["type"] == "date":
                    lo, hi = _span(it)
                    bb = _span(_to_date(b))
                    out = hi < bb[0] if bound == "min" else lo > bb[1]
                else:
                    out = bad(it, b)
                if out:
                    word = "at least" if bound == "min" else "at most"
                    raise ParameterError(f"parameter '{pname}' of notebook '{nb}' must be {word} {b}, not {_show(it)}.")
    if spec["type"] == "path" and spec.get("exists", True):
        p = Path(os.path.expanduser(v))
        if not p.exists():
            alt = REPO_ROOT / p
            if not p.is_absolute() and alt.exists():
                return str(alt)
            raise ParameterError(f"parameter '{pname}' of notebook '{nb}' names {v!r}, which does not exist.")
    return v


def _check_coverage(nb: str, pname: str, spec: dict, value: str, source: str) -> None:
    import pandas as pd

    lo, hi = (pd.Timestamp(x) for x in _span(value))
    hi = hi + pd.Timedelta(days=1) - pd.Timedelta(1)
    for pid in spec.get("coverage_of") or []:
        start, end = catalog.coverage(pid, source=source)
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        if hi < start or lo > end:
            raise ParameterError(
                f"parameter '{pname}' of notebook '{nb}' is {value}, outside the {source} coverage of "
                f"{pid} ({start:%Y-%m-%d} to {end:%Y-%m-%d})."
            )


def _product_ids_of(spec: dict, values: dict) -> list[str]:
    out = []
    for pid in spec.get("coverage_of") or []:
        try:
            out.append(str(pid).format(**values))
        except (KeyError, IndexError, ValueError):
            raise ParameterError(f"the product id {pid!r} in coverage_of names an undeclared parameter.") from None
    return out


def _check_region_coverage(nb: str, pname: str, region: str, pids: list[str], source: str) -> None:
    """The region's bounding box must lie in what ``source`` holds of every product in ``pids``."""
    try:
        bbox = tuple(float(x) for x in regions.bbox(region))
    except SatCO2Error as e:
        raise ParameterError(f"parameter '{pname}' of notebook '{nb}': {e}") from None
    for pid in pids:
        if source == "upstream":  # opening would download: the registry's footprint decides
            pb = registry.get(pid).raw.get("bbox")
            ok = not isinstance(pb, (list, tuple)) or len(pb) != 4 or (
                pb[0] < bbox[2] and pb[2] > bbox[0] and pb[1] < bbox[3] and pb[3] > bbox[1])
            why = f"the product's bbox {list(pb) if isinstance(pb, (list, tuple)) else pb}"
        else:
            try:
                ds = catalog.open(pid, source=source, bbox=bbox)
                ok = all(ds.sizes.get(d, 1) > 0 for d in ("lat", "lon"))
                why = "it selects no grid cell"
            except SatCO2Error as e:
                ok, why = False, str(e).rstrip(".")
        if not ok:
            raise ParameterError(
                f"parameter '{pname}' of notebook '{nb}' is {region}, which the {source} source does not "
                f"cover for input {pid} ({why}); choose a region inside its coverage or another source."
            )


def validate(name: str | os.PathLike, values: Mapping[str, Any] | None = None, *, strict: bool = False,
             check_coverage: bool = True) -> dict[str, Any]:
    """Validate a notebook's parameter values against its schema and return them typed.

    Parameters
    ----------
    name
        Notebook name (``"pco2_flux"``) or a path to its ``.ipynb`` / ``.params.yaml``.
    values
        A mapping holding the values, e.g. the notebook's ``globals()``: only the schema's names are
        picked from it; a declared name absent from it takes the schema default.
    strict
        Refuse names in ``values`` that the schema does not declare (used by ``satco2 run``, where
        every given name must be a parameter).
    check_coverage
        Check ``coverage_of`` against the catalog (off only for offline form previews).

    Returns
    -------
    dict
        ``{name: value}`` for every declared parameter, in schema order.

    Raises
    ------
    ParameterError
        One sentence: unknown name, wrong type, value not in choices, unknown region, out of range,
        date outside the coverage of a product, missing required value.
    """
    values = {} if values is None else values
    nb, _ = _schema_path(name)
    params = declared(name)
    if strict:
        for k in values:
            if k not in params:
                raise ParameterError(
                    f"notebook '{nb}' has no parameter '{k}'; its parameters are {', '.join(params) or 'none'}."
                )
    out: dict[str, Any] = {}
    for pname, spec in params.items():
        raw = values[pname] if pname in values else spec.get("default", _MISSING)
        if raw is _MISSING:
            raise ParameterError(f"parameter '{pname}' of notebook '{nb}' is required and has no default.")
        out[pname] = _check_one(nb, pname, spec, raw)
    for pname, spec in params.items():
        other = spec.get("after")
        if other and out[pname] and out[other]:
            if _span(out[pname])[1] < _span(out[other])[0]:
                raise ParameterError(
                    f"parameter '{pname}' of notebook '{nb}' ({out[pname]}) must not precede '{other}' ({out[other]})."
                )
    if check_coverage:
        source = str(out.get("source", "demo")) if "source" in params else "demo"
        for pname, spec in params.items():
            if not spec.get("coverage_of") or not out[pname]:
                continue
            pids = _product_ids_of(spec, out)
            if spec["type"] == "date":
                _check_coverage(nb, pname, {**spec, "coverage_of": pids}, out[pname], source)
            elif spec.get("choices_from") == "regions":
                for region in out[pname] if isinstance(out[pname], list) else [out[pname]]:
                    _check_region_coverage(nb, pname, region, pids, source)
    return out


# ----------------------------------------------------------------------------------------------
# the notebook's parameters cell
def _notebook_path(name: str | os.PathLike) -> Path:
    nb, schema_file = _schema_path(name)
    return schema_file.with_name(nb + ".ipynb")


def notebook_defaults(name: str | os.PathLike) -> dict[str, Any]:
    """The literal assignments ``name = value`` of the notebook's cell tagged ``parameters``."""
    import nbformat

    path = _notebook_path(name)
    try:
        nbk = nbformat.read(path, as_version=4)
    except OSError:
        raise ParameterError(f"notebook {path} cannot be read.") from None
    cells = [c for c in nbk.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"notebook {path} must have exactly one code cell tagged 'parameters', not {len(cells)}.")
    out: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(value)
                except ValueError:
                    raise ParameterError(f"parameter '{t.id}' in the parameters cell of {path} is not a literal value.") from None
    return out


def check_defaults(name: str | os.PathLike) -> None:
    """Check that the notebook's parameters cell assigns exactly the schema's parameters, with
    values equal (after typing) to the schema defaults; raise :class:`ParameterError` otherwise."""
    nb, _ = _schema_path(name)
    cell = notebook_defaults(name)
    params = declared(name)
    missing = [p for p in params if p not in cell]
    extra = [p for p in cell if p not in params]
    if missing or extra:
        raise ParameterError(
            f"the parameters cell of notebook '{nb}' does not match its schema "
            f"(missing from the cell: {missing or 'none'}; not in the schema: {extra or 'none'})."
        )
    for pname, spec in params.items():
        if "default" not in spec:
            continue
        a = _coerce(nb, pname, spec, spec["default"])
        b = _coerce(nb, pname, spec, cell[pname]) if cell[pname] is not None else None
        if a != b:
            raise ParameterError(
                f"parameter '{pname}' of notebook '{nb}' defaults to {_show(spec['default'])} in its schema "
                f"but to {_show(cell[pname])} in its parameters cell."
            )
