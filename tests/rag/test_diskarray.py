"""DiskArray reads what numpy would return, without mapping the file."""

import os
import pickle

import numpy as np
import pytest

from rag.index.diskarray import DiskArray


def _rss_file_kb() -> int:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssFile:"))


def test_reads_as_numpy_does(tmp_path):
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 2**63, size=10_001, dtype=np.uint64))
    np.save(tmp_path / "a.npy", a)
    d = DiskArray.npy(tmp_path / "a.npy")
    assert (len(d), d.dtype, d.ndim, d.size) == (len(a), a.dtype, 1, a.size)
    assert d[0] == a[0] and d[-1] == a[-1] and d[5000] == a[5000]
    assert np.array_equal(d[17:4000], a[17:4000]) and np.array_equal(d[::1000], a[::1000]) and len(d[9:3]) == 0
    ids = np.array([[9999, 3], [3, 10_000]])
    assert np.array_equal(d[ids], a[ids]) and np.array_equal(np.asarray(d), a)
    probes = np.concatenate([a[::97], a[::128], a[127::128], a[::89] + 1, a[::101] - 1, np.array([0, 2**64 - 1], dtype=np.uint64)])
    for side in ("left", "right"):
        assert np.array_equal(d.searchsorted(probes, side), np.searchsorted(a, probes, side)), side
        assert d.searchsorted(probes[7], side) == np.searchsorted(a, probes[7], side)
    at, found = d.find(probes)
    assert np.array_equal(at, np.searchsorted(a, probes)) and np.array_equal(found, np.isin(probes, a))
    assert found.sum() >= len(a[::97]) and d.find(a[0]) == (0, True)
    assert d[np.zeros(0, dtype=np.int64)].shape == (0,)
    with pytest.raises(IndexError):
        d[len(a)]
    with pytest.raises(IndexError):
        d[np.array([0, len(a)])]
    assert np.array_equal(np.asarray(pickle.loads(pickle.dumps(d))), a)


def test_rows_of_a_raw_file(tmp_path):
    v = np.random.default_rng(1).standard_normal((1000, 8)).astype(np.float32)
    v.tofile(tmp_path / "v.f32")
    d = DiskArray.raw(tmp_path / "v.f32", np.float32, 8)
    assert d.shape == (1000, 8)
    ids = np.array([999, 3, 4, 5, 3, 0])
    assert np.array_equal(d[ids], v[ids]) and np.array_equal(d[10:20], v[10:20])
    assert np.array_equal(np.concatenate([b for _, b in d.blocks(300)]), v)
    (tmp_path / "short.f32").write_bytes(v.tobytes()[:-4])
    with pytest.raises(ValueError, match="short.f32: 31996 bytes is not a whole number of 8-value rows"):
        DiskArray.raw(tmp_path / "short.f32", np.float32, 8)


def test_a_removed_file_is_still_read_and_nothing_is_mapped(tmp_path):
    v = np.random.default_rng(2).standard_normal((65_536, 64)).astype(np.float32)  # 16 MB
    v.tofile(tmp_path / "v.f32")
    d = DiskArray.raw(tmp_path / "v.f32", np.float32, 64)
    os.remove(tmp_path / "v.f32")  # a stale index version removed under a reader
    before = _rss_file_kb()
    ids = np.random.default_rng(3).choice(len(v), 2000, replace=False)
    assert np.array_equal(d[ids], v[ids])
    assert _rss_file_kb() - before < 1024  # a memory map would hold most of the 16 MB now
