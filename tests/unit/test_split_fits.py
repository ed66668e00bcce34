"""Cube shapes from FITS headers: agree with astropy, never read the data, refuse non-FITS by name."""

import io

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from srcnet_tui.core.errors import NotFound, UsageError
from srcnet_tui.core.runs.fits import BLOCK, CubeShape, read_cube_shape, read_cube_shape_from

DTYPES = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64, -32: np.float32, -64: np.float64}


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)),
    st.sampled_from(sorted(DTYPES)),
    st.integers(0, 60),
)
def test_shape_agrees_with_astropy(shape_xyz, bitpix, extra_cards):
    nx, ny, nz = shape_xyz
    header = fits.Header()
    for i in range(extra_cards):  # long headers span several 2880-byte blocks
        header[f"HIST{i}"] = ("x" * 20, "a comment / with a slash")
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.zeros((nz, ny, nx), dtype=DTYPES[bitpix]), header=header).writeto(buffer)
    buffer.seek(0)
    expected = fits.getheader(io.BytesIO(buffer.getvalue()))
    shape = read_cube_shape_from(buffer, "cube.fits")
    assert shape == CubeShape(expected["NAXIS1"], expected["NAXIS2"], expected["NAXIS3"], expected["BITPIX"])
    assert shape.nbytes == nx * ny * nz * abs(bitpix) // 8


def header_bytes(cards: list[str]) -> bytes:
    text = "".join(card.ljust(80) for card in cards + ["END"])
    return text.ljust(-(-len(text) // BLOCK) * BLOCK).encode("ascii")


def test_only_the_header_is_read(tmp_path):
    """A 'cube' whose header promises 4 TB of data: the read touches only the first block."""
    path = tmp_path / "huge.fits"
    cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    3",
             "NAXIS1  =                10000", "NAXIS2  =                10000", "NAXIS3  =                10000"]  # fmt: skip
    path.write_bytes(header_bytes(cards))
    shape = read_cube_shape(path)
    assert shape.shape == (10000, 10000, 10000) and shape.nbytes == 4 * 10**12


def test_stokes_axis_swapped_like_sofia(tmp_path):
    path = tmp_path / "stokes.fits"
    cards = ["SIMPLE  = T", "BITPIX  = -32", "NAXIS   = 4", "NAXIS1  = 30", "NAXIS2  = 20", "NAXIS3  = 1", "NAXIS4  = 64"]
    path.write_bytes(header_bytes(cards))
    assert read_cube_shape(path).shape == (30, 20, 64)
    cards[-2:] = ["NAXIS3  = 64", "NAXIS4  = 1"]
    path.write_bytes(header_bytes(cards))
    assert read_cube_shape(path).shape == (30, 20, 64)


def test_two_dimensional_image_is_a_single_plane(tmp_path):
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((20, 30), dtype=np.float32)).writeto(path)
    assert read_cube_shape(path).shape == (30, 20, 1)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not a FITS file (empty)"),
        (b"hello world\n" * 300, "not a FITS file (it does not start with SIMPLE = T)"),
        (header_bytes(["SIMPLE  = T", "BITPIX  = -32"])[:2000], "cut short before the header's END card"),
        (header_bytes(["SIMPLE  = T", "BITPIX  = 12", "NAXIS = 1", "NAXIS1 = 3"]), "BITPIX = 12 is not a FITS pixel type"),
        (header_bytes(["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 0"]), "NAXIS = 0; a cube for source finding needs 1 to 4 axes"),
        (header_bytes(["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 2", "NAXIS1  = 4"]), "the FITS header has no NAXIS2"),
        (
            header_bytes(
                ["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 4", "NAXIS1  = 4", "NAXIS2  = 4", "NAXIS3  = 4", "NAXIS4  = 2"]
            ),
            "NAXIS4 = 2; only a fourth axis of size 1",
        ),
        ("SIMPLE  = T é".ljust(BLOCK).encode("utf-8"), "the header is not ASCII"),
    ],
)
def test_bad_input_is_refused_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad input.fits"
    path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        read_cube_shape(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(NotFound, match="no such file"):
        read_cube_shape(tmp_path / "nope.fits")
    with pytest.raises(UsageError, match="is a folder"):
        read_cube_shape(tmp_path)
