"""Index arrays read with ``pread``: what a query touches is copied in, never mapped.

Pages of a memory-mapped file count in the process's resident memory, and the kernel maps
page cache in large folios (up to 2 MB), so the few hundred random rows a search reads of a
1.5 GB vector file, or the postings of a few dozen terms, mapped gigabytes into a serving
process at a million passages (docs/scale.md). Read with ``pread`` the pages stay in the page
cache, shared between processes and dropped by the kernel as it needs; the process holds only
the rows it asked for. A descriptor follows its file, so an index version removed while a
reader still has it open is read to the end, as a memory map was.
"""

from __future__ import annotations

import errno
import os
import resource
import threading
import weakref
from pathlib import Path

import numpy as np

_SAMPLE_EVERY = 128  # a sorted array's every 128th value stays in memory: a lookup reads ≤ 1 KB of it
_READ_BLOCK = 1 << 23


def _open(path: Path) -> int:
    """A read-only descriptor; at the process's limit on open files, the soft limit is raised to the hard one
    (an index of many BM25 shards holds a few hundred)."""
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno != errno.EMFILE:
            raise
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft >= hard:
            msg = (f"{path}: too many open files ({soft}, the hard limit); an index holds one per array: "
                   "raise `ulimit -n`.")
            raise OSError(errno.EMFILE, msg) from e
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))


class DiskArray:
    """A read-only array in a file (``.npy``, or raw rows), indexed like numpy: ``a[i]``, ``a[lo:hi]``,
    ``a[ids]`` (first axis), ``a.searchsorted(values)`` for a sorted 1-D array, ``np.asarray(a)``.

    Example::

        terms = DiskArray.npy(folder / "lexical.exact.unigrams.terms.npy")
        at = terms.searchsorted(hashes)     # reads ≤ 1 KB per value
        rows = DiskArray.raw(folder / "vectors.f32", np.float32, 384)[[7, 3, 4]]
    """

    def __init__(self, path: Path, dtype, shape: tuple[int, ...], offset: int = 0) -> None:
        self.path, self.dtype, self.shape, self.offset = Path(path), np.dtype(dtype), tuple(shape), offset
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._fd = _open(self.path)
        self._closer = weakref.finalize(self, os.close, self._fd)
        self._sample: np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def npy(cls, path: Path) -> DiskArray:
        """An ``.npy`` file's array (C order, as ``np.save`` writes)."""
        header = np.load(path, mmap_mode="r", allow_pickle=False)  # parses the header; maps, touches nothing
        if header.ndim and not header.flags.c_contiguous:
            msg = f"{path}: a Fortran-ordered array cannot be read by rows."
            raise ValueError(msg)
        return cls(path, header.dtype, header.shape, header.offset)

    @classmethod
    def of(cls, array: np.memmap) -> DiskArray:
        """The file behind a read-only memory map, read instead of mapped."""
        return cls(Path(array.filename), array.dtype, array.shape, array.offset)

    @classmethod
    def raw(cls, path: Path, dtype, width: int) -> DiskArray:
        """A headerless file of rows of ``width`` values."""
        size = Path(path).stat().st_size
        row = np.dtype(dtype).itemsize * width
        if size % row:
            msg = f"{path}: {size} bytes is not a whole number of {width}-value rows."
            raise ValueError(msg)
        return cls(path, dtype, (size // row, width))

    def close(self) -> None:
        self._closer()

    def __reduce__(self):  # a copy elsewhere opens the file again
        return (DiskArray, (self.path, self.dtype, self.shape, self.offset))

    # -- numpy's face ---------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"DiskArray({str(self.path)!r}, {self.dtype}, {self.shape})"

    def __array__(self, dtype=None, copy=None):
        out = self[0 : len(self)]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key):
        if isinstance(key, slice):
            lo, hi, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(lo, hi, step)]
            return self._rows(lo, max(hi - lo, 0))
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                msg = f"index {key} is out of bounds for {self!r}"
                raise IndexError(msg)
            row = self._rows(i, 1)
            return row[0]
        ids = np.asarray(key)
        if ids.dtype == bool:
            ids = np.flatnonzero(ids)
        return self._take(ids.astype(np.int64, copy=False))

    def _rows(self, first: int, n: int) -> np.ndarray:
        out = np.empty((n, *self.shape[1:]), dtype=self.dtype)
        if n:
            self._read_into(out, first)
        return out

    def _read_into(self, out: np.ndarray, first: int) -> None:
        view, want, at = memoryview(out).cast("B"), out.nbytes, self.offset + first * self.row_bytes
        done = 0
        while done < want:  # pread may return less than asked
            got = os.preadv(self._fd, [view[done:]], at + done)
            if got <= 0:
                msg = f"{self.path}: ended {want - done} bytes early (truncated?)"
                raise OSError(errno.EIO, msg)
            done += got

    def _take(self, ids: np.ndarray) -> np.ndarray:
        """Rows ``ids`` (any order, repeats allowed), each run of consecutive rows read at once."""
        flat = ids.reshape(-1)
        flat = np.where(flat < 0, flat + len(self), flat)
        if len(flat) and (flat.min() < 0 or flat.max() >= len(self)):
            msg = f"index out of bounds for {self!r}"
            raise IndexError(msg)
        unique = np.unique(flat)
        rows = np.empty((len(unique), *self.shape[1:]), dtype=self.dtype)
        if not len(unique):
            return rows.reshape(*ids.shape, *self.shape[1:])
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(unique)]):
            self._read_into(rows[lo:hi], int(unique[lo]))
        return rows[np.searchsorted(unique, flat)].reshape(*ids.shape, *self.shape[1:])

    def blocks(self, rows: int):
        """``(first row, rows)`` a block at a time, in order."""
        for lo in range(0, len(self), rows):
            yield lo, self._rows(lo, min(rows, len(self) - lo))

    # -- sorted arrays ----------------------------------------------------------------------
    def searchsorted(self, values, side: str = "left"):
        """As :func:`numpy.searchsorted` on a sorted 1-D array: an in-memory sample of every 128th value
        finds the block, and only that block is read."""
        return self._search(values, side)[0]

    def find(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``values`` is (its left insertion point), and whether it is there: one read each."""
        return self._search(values, "left")

    def _search(self, values, side: str):
        sample = self._sample if self._sample is not None else self._load_sample()
        v = np.asarray(values, dtype=self.dtype)
        flat = v.reshape(-1)
        blocks = np.searchsorted(sample, flat, side).tolist()
        at, found = np.zeros(len(flat), dtype=np.int64), np.zeros(len(flat), dtype=bool)
        for j, b in enumerate(blocks):
            if b:
                lo = (b - 1) * _SAMPLE_EVERY
                # up to the next sampled value: it may be the one sought
                block = self._rows(lo, min(b * _SAMPLE_EVERY + 1, len(self)) - lo)
                k = int(block.searchsorted(flat[j], side))
                at[j] = lo + k
                found[j] = k < len(block) and block[k] == flat[j]
            elif len(sample):
                found[j] = sample[0] == flat[j]
        if v.ndim == 0:
            return at[0], found[0]
        return at.reshape(v.shape), found.reshape(v.shape)

    def _load_sample(self) -> np.ndarray:
        with self._lock:
            if self._sample is None:
                step = _READ_BLOCK // _SAMPLE_EVERY // self.dtype.itemsize * _SAMPLE_EVERY  # a multiple of the step
                self._sample = np.concatenate([b[::_SAMPLE_EVERY] for _, b in self.blocks(step)] or
                                              [np.zeros(0, self.dtype)])
        return self._sample
