"""Write the frames of a results directory as Parquet files, fast enough for a year of a feeder.

A year at 15 min of the IEEE European LV feeder is two time x elements tables of 35,040 x ~907
float64 (0.25 GB each). Three things made ``DataFrame.to_parquet`` take 3-4 s for them, each
measured on that year (2-core machine, ext4):

* **strided columns.** The recorder's arrays are time-major (one row per tick), so each column
  of the frame is a strided view and pyarrow gathered it element by element (1.3 s per table).
  ``column_major`` copies the array once in cache-sized blocks of rows (0.1-0.2 s per table); the
  pyarrow arrays are then zero-copy views of its rows.
* **compression.** Snappy saved 5 % of the bytes of these near-random float64 mantissas (0.25 GB
  -> 0.24 GB) for 0.2-0.4 s per table; lz4 with byte-stream-split saved 18 % (0.19 / 0.23 GB) but
  doubled the encoding time; zstd level 1 saved 19 % at 3x. The wide tables are written
  uncompressed (``WIDE_COMPRESSION``); the small tables keep pyarrow's default (snappy).
* **overwriting.** Truncating a file of the previous run and writing it again made ext4 flush the
  data on close (its replace-by-truncate safeguard): 0.23 s instead of 0.08 s for 0.25 GB of raw
  bytes. ``write_table`` removes the old file first.

Min/max statistics are kept for the ``time`` column only (per-element statistics of 907 columns cost
about 0.05 s per table and no reader of ours filters on them). Values are stored bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

WIDE_COMPRESSION = "none"
"""Parquet codec of the time x elements tables (see the module docstring for the measurements)."""

ROWS_PER_BLOCK = 256
"""Rows transposed at a time by ``column_major``: 256 rows x 907 float64 columns (1.9 MB) fit in L2/L3."""


def column_major(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The (columns x rows) C-contiguous copy of a 2-D array, i.e. ``values.T`` laid out row by row.

    A view when ``values`` is already column-major (e.g. a frame read back from Parquet); otherwise a
    copy made ``ROWS_PER_BLOCK`` rows at a time, which is 3x faster than ``np.ascontiguousarray(values.T)``
    on a year of bus voltages because both sides of each block stay in cache.
    """
    if values.T.flags.c_contiguous:
        return values.T
    n_rows, n_columns = values.shape
    out = np.empty((n_columns, n_rows), dtype=values.dtype)
    for start in range(0, n_rows, ROWS_PER_BLOCK):
        out[:, start : start + ROWS_PER_BLOCK] = values[start : start + ROWS_PER_BLOCK].T
    return out


def write_table(table: pa.Table, path: Path, **options: object) -> None:
    """``pyarrow.parquet.write_table`` into ``path``, removing an older file there first (see above)."""
    path.unlink(missing_ok=True)
    pq.write_table(table, path, **options)


def write_frame(frame: pd.DataFrame, path: Path, *, index: bool, use_dictionary: bool = True) -> None:
    """A small or mixed-type frame (timeseries, sessions, buses) as ``DataFrame.to_parquet`` writes it."""
    write_table(pa.Table.from_pandas(frame, preserve_index=index), path, use_dictionary=use_dictionary)


def _is_wide_float(frame: pd.DataFrame) -> bool:
    return isinstance(frame.index, pd.DatetimeIndex) and all(d == np.float64 for d in frame.dtypes)


def write_wide(frame: pd.DataFrame, path: Path) -> None:
    """A time x elements frame of float64 (index ``time``), written column by column from one
    column-major copy, uncompressed; read back by ``pandas.read_parquet`` as an equal frame.

    Another frame (not float64, or not indexed by time) is written by ``write_frame``.
    """
    if not _is_wide_float(frame):
        write_frame(frame, path, index=True, use_dictionary=False)
        return
    # The schema (with pandas' metadata: index name, time zone, column names) of the frame;
    # the arrays are built here instead of by pyarrow's strided per-column gather.
    schema = pa.Schema.from_pandas(frame.iloc[:0], preserve_index=True)
    index_table = pa.Table.from_pandas(frame.iloc[:, :0], preserve_index=True)
    columns = column_major(frame.to_numpy())
    arrays = [pa.array(column) for column in columns] + list(index_table.columns)
    table = pa.Table.from_arrays(arrays, schema=schema)
    write_table(table, path, use_dictionary=False, compression=WIDE_COMPRESSION,
                write_statistics=list(index_table.column_names))
