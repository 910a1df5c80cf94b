"""The parallel HDF5 chunk decoder equals netCDF4-python's masking and scaling, or steps aside."""
from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from satco2.catalog.readers import hdf5_chunks


def _netcdf4(path, name) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        return np.ma.filled(np.ma.asarray(nc.variables[name][:]).astype(np.float32), np.nan)


def _same(a, b) -> None:
    assert a is not None, "the fast path did not apply"
    assert a.dtype == np.float32 and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a[~np.isnan(a)], b[~np.isnan(b)])  # bit-identical values


REAL = [
    ("AQUA_MODIS.20210101_20211231.L3m.YR.CHL.x_chlor_a.nc", "chlor_a"),  # float32, shuffle+deflate
    ("AQUA_MODIS.20210101_20211231.L3m.YR.POC.x_poc.nc", "poc"),  # int16 scale/offset, valid range
    ("AQUA_MODIS.20210101_20211231.L3m.YR.SST.x_sst.nc", "sst"),
    ("AQUA_MODIS.20210101_20211231.L3m.YR.SST.x_sst.nc", "qual_sst"),  # uint8 with _FillValue
    ("S20092742009304.L3m_MO_CHL_chlor_a_9km.nc", "chlor_a"),  # deflate only, scale 1 offset 0
]


@pytest.mark.parametrize("fname,var", REAL)
def test_real_l3m_files_equal_netcdf4(shared_data, fname, var):
    path = shared_data / "ocean_color" / fname
    ref = _netcdf4(path, var)
    assert np.isfinite(ref).sum() > 1000
    _same(hdf5_chunks.read_2d(path, var), ref)
    _same(hdf5_chunks.read_2d(path, var, flip_rows=True), ref[::-1])


def test_tiny_chunks_are_left_to_netcdf4(shared_data):
    # 22 x 44 chunks: the per-chunk overhead would make the fast path slower
    path = shared_data / "ocean_color" / "S20080012008031.L3m_MO_CHL_chlor_a_9km.nc"
    assert hdf5_chunks.read_2d(path, "chlor_a") is None


def _write(path, dtype, values, attrs, chunks=(64, 96), zlib=True, shuffle=True, fill=None,
           fletcher32=False, rows=None):
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("lat", values.shape[0])
        nc.createDimension("lon", values.shape[1])
        v = nc.createVariable("x", dtype, ("lat", "lon"), zlib=zlib, shuffle=shuffle,
                              chunksizes=chunks, fill_value=fill, fletcher32=fletcher32)
        v.setncatts(attrs)
        v.set_auto_maskandscale(False)
        if rows is None:
            v[:] = values
        else:  # only some rows written: the other chunks stay unallocated
            v[rows] = values[rows]
    return path


def _values(dtype, shape=(150, 250), seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(5, 3, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -30000), min(info.max, 30000), shape, endpoint=True).astype(dtype)


CASES = {
    "float32 fill and valid range": ("f4", {"valid_min": np.float32(0), "valid_max": np.float32(9)}, -999.0, {}),
    "float64 no attributes (default fill)": ("f8", {}, None, {}),
    "float32 NaN fill, missing_value": ("f4", {"missing_value": np.float32(5.0)}, np.nan, {}),
    "int16 scale and offset": ("i2", {"scale_factor": np.float32(0.01), "add_offset": np.float32(20),
                                      "valid_range": np.array([-20000, 20000], "i2")}, -32767, {}),
    "int16 scale only, default fill": ("i2", {"scale_factor": np.float64(0.5)}, None, {}),
    "int32 offset only": ("i4", {"add_offset": np.float32(-3)}, -1, {}),
    "uint16 scale 1 offset 0": ("u2", {"scale_factor": np.float32(1), "add_offset": np.float32(0)}, 0, {}),
    "int8 with _FillValue": ("i1", {"valid_max": np.int8(100)}, -127, {}),
    "no shuffle": ("f4", {}, -1.0, {"shuffle": False}),
    "no compression": ("f4", {}, -1.0, {"zlib": False, "shuffle": False}),
    "edge chunks and unallocated chunks": ("f4", {}, -1.0, {"chunks": (64, 128), "rows": slice(0, 70)}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_decoding_equals_netcdf4(tmp_path, case):
    dtype, attrs, fill, kw = CASES[case]
    vals = _values(dtype)
    if fill is not None and not (isinstance(fill, float) and np.isnan(fill)):
        vals.flat[::7] = fill
    if np.dtype(dtype).kind == "f":
        vals.flat[::11] = np.nan
        vals.flat[::13] = netCDF4.default_fillvals[np.dtype(dtype).str[1:]]
    elif "default fill" in case:
        vals.flat[::13] = netCDF4.default_fillvals[np.dtype(dtype).str[1:]]
    path = _write(tmp_path / "f.nc", dtype, vals, attrs, fill=fill, **kw)
    ref = _netcdf4(path, "x")
    assert np.isnan(ref).any() and np.isfinite(ref).any()
    _same(hdf5_chunks.read_2d(path, "x"), ref)
    _same(hdf5_chunks.read_2d(path, "x", flip_rows=True), ref[::-1])


def test_unhandled_layouts_return_none(tmp_path):
    vals = _values("f4")
    assert hdf5_chunks.read_2d(_write(tmp_path / "a.nc", "f4", vals, {}, fletcher32=True), "x") is None
    assert hdf5_chunks.read_2d(_write(tmp_path / "b.nc", "i2", _values("i2"), {"_Unsigned": "true"}), "x") is None
    assert hdf5_chunks.read_2d(_write(tmp_path / "c.nc", "u1", _values("u1"), {}), "x") is None  # byte, no fill
    # valid_min that does not cast exactly to the type: netCDF4-python ignores it with a warning
    assert hdf5_chunks.read_2d(_write(tmp_path / "d.nc", "i2", _values("i2"), {"valid_min": 0.5}), "x") is None
    good = _write(tmp_path / "e.nc", "f4", vals, {})
    data = good.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: len(data) * 2 // 3])  # truncated: chunks missing
    assert hdf5_chunks.read_2d(cut, "x") is None
    assert hdf5_chunks.read_2d(good, "nope") is None
    with netCDF4.Dataset(tmp_path / "g.nc", "w", format="NETCDF3_CLASSIC") as nc:
        nc.createDimension("lat", 3)
        nc.createDimension("lon", 4)
        nc.createVariable("x", "f4", ("lat", "lon"))[:] = 1
    assert hdf5_chunks.read_2d(tmp_path / "g.nc", "x") is None


@pytest.mark.parametrize("name", hdf5_chunks.INFLATERS)
def test_every_inflater_decodes_the_same(tmp_path, monkeypatch, name):
    # the preferred inflater (libdeflate) and its fallbacks (ISA-L, zlib) give identical values
    pytest.importorskip({"deflate": "deflate", "isal": "isal.isal_zlib", "zlib": "zlib"}[name])
    used, fn = hdf5_chunks.inflater(name)
    assert used == name
    monkeypatch.setattr(hdf5_chunks, "_INFLATE", fn)
    for dtype, shuffle in (("f4", True), ("f4", False), ("i2", True)):
        vals = _values(dtype, seed=3)
        path = _write(tmp_path / f"{dtype}{shuffle}.nc", dtype, vals, {}, chunks=(64, 128), shuffle=shuffle)
        ref = _netcdf4(path, "x")
        _same(hdf5_chunks.read_2d(path, "x", flip_rows=True), ref[::-1])
    with pytest.raises(ValueError, match="no inflater"):
        hdf5_chunks.inflater("gzip9000")


def test_default_inflater_is_libdeflate():
    # the project's dependency files pin `deflate`; without it the reader would silently be ~3x slower
    assert hdf5_chunks.inflater()[0] == "deflate"


def test_a_recycled_output_is_reused_and_wholly_rewritten(tmp_path):
    """recycle() hands an output back (through a view); the next read of that shape fills the
    same memory, unallocated chunks as NaN rather than the previous file's values; arrays that
    read_2d did not make are never taken."""
    full = _write(tmp_path / "full.nc", np.float32, _values(np.float32, seed=1), {})
    part = _write(tmp_path / "part.nc", np.float32, _values(np.float32, seed=2), {}, rows=slice(0, 64))
    a = hdf5_chunks.read_2d(full, "x")
    _same(a, _netcdf4(full, "x"))
    hdf5_chunks.recycle(a[::-1][None])
    b = hdf5_chunks.read_2d(part, "x")
    assert b is a
    ref = _netcdf4(part, "x")
    assert np.isnan(ref[64:]).all() and np.isfinite(ref[:64]).any()
    _same(b, ref)
    foreign = np.zeros_like(b)
    hdf5_chunks.recycle(foreign)
    c = hdf5_chunks.read_2d(full, "x")
    assert c is not foreign and c is not b
    _same(c, _netcdf4(full, "x"))
