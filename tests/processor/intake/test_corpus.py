"""Bad-input corpus: every small broken file gets its expected error code, and real-file
oddities that must be tolerated still load. Nothing may raise, nothing may hang."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian

from spectssp.errors import ErrorCode
from processor.intake import load_series
from tests.helpers.dicom import SC_STORAGE


def _vol(gen, shape=(18, 16, 16)):
    return gen.test_volume(shape)


def _mf(gen, **kw):
    return gen.nm_multiframe(_vol(gen), gen.Geometry(direction=gen.rotation(0, 0, 8)), **kw)


def _slices(gen, **kw):
    return gen.nm_slices(_vol(gen), gen.Geometry(), shuffle=False, **kw)


def _mf_case(*, name: str = "mf.dcm", without: tuple[str, ...] = (), tracer: str | None = "123I-IMP",
             **attrs):
    """A builder: the standard multi-frame file with top-level attributes deleted, then set."""
    def build(gen, d):
        ds = _mf(gen, tracer=tracer)
        for kw in without:
            delattr(ds, kw)
        for kw, value in attrs.items():
            setattr(ds, kw, value)
        gen.save(ds, d / name)
    return build


# --- builders: each writes its case into ``d`` ----------------------------------------------

def text_file(gen, d):
    (d / "report.dcm").write_text("Patient report\nnothing to see here\n" * 20)


def empty_file(gen, d):
    (d / "empty.dcm").write_bytes(b"")


def random_bytes(gen, d):
    (d / "noise.bin").write_bytes(np.random.default_rng(7).bytes(20000))


def jpeg_header(gen, d):
    (d / "photo.dcm").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(3000) + b"\xff\xd9")


def dicm_then_garbage(gen, d):
    (d / "broken.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + bytes(50))


def truncated_pixels(gen, d):
    path = gen.save(_mf(gen), d / "mf.dcm")
    path.write_bytes(path.read_bytes()[:-2000])


# within the voxel limit, but the data holds 18 frames
frames_beyond_data = _mf_case(NumberOfFrames=40, SliceVector=list(range(1, 41)))


no_pixel_data = _mf_case(without=("PixelData",))


def ct_modality(gen, d):
    for ds in _slices(gen, modality="CT", sop_class=gen.CT_STORAGE, tracer=None):
        gen.save(ds, d / f"{ds.SOPInstanceUID}.dcm")


secondary_capture = _mf_case(name="sc.dcm", SOPClassUID=SC_STORAGE)
planar_static = _mf_case(name="static.dcm", ImageType=["ORIGINAL", "PRIMARY", "STATIC", "EMISSION"])
planar_whole_body = _mf_case(name="wb.dcm", ImageType=["ORIGINAL", "PRIMARY", "WHOLE BODY", "EMISSION"])


def single_2d_image(gen, d):
    gen.save(_slices(gen)[5], d / "one.dcm")


gated_recon = _mf_case(name="gated.dcm", ImageType=["ORIGINAL", "PRIMARY", "RECON GATED TOMO", "EMISSION"])
two_energy_windows = _mf_case(name="ew.dcm", FrameIncrementPointer=[0x00540010, 0x00540080],
                              EnergyWindowVector=[1] * 9 + [2] * 9)
colour_pixels = _mf_case(name="rgb.dcm", SamplesPerPixel=3)


def mixed_matrix(gen, d):
    slices = _slices(gen)
    small = gen.nm_slices(gen.test_volume((18, 8, 8)), gen.Geometry(), shuffle=False,
                          series_uid=slices[0].SeriesInstanceUID)
    for k, ds in enumerate(slices[:9] + small[9:]):
        gen.save(ds, d / f"s{k:02d}.dcm")


def uneven_spacing(gen, d):
    slices = _slices(gen)
    for k, ds in enumerate(slices):
        if k != 7:  # a slice missing from the middle leaves one double gap
            gen.save(ds, d / f"s{k:02d}.dcm")


def duplicate_positions(gen, d):
    slices = _slices(gen)
    slices[4].ImagePositionPatient = slices[3].ImagePositionPatient
    gen.save_all(slices, d)


def sheared_stack(gen, d):
    slices = _slices(gen)
    for k, ds in enumerate(slices):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [str(x + 2.0 * k), str(y), str(z)]  # gantry-tilt-like shift
    gen.save_all(slices, d)


def missing_position_slices(gen, d):
    slices = _slices(gen)
    del slices[6].ImagePositionPatient
    gen.save_all(slices, d)


def missing_position_multiframe(gen, d):
    ds = _mf(gen)
    del ds.DetectorInformationSequence[0].ImagePositionPatient
    gen.save(ds, d / "mf.dcm")


missing_slice_spacing = _mf_case(without=("SpacingBetweenSlices", "SliceThickness"))
missing_pixel_spacing = _mf_case(without=("PixelSpacing",))


def garbage_pixel_spacing(gen, d):
    ds = _mf(gen)
    ds.PixelSpacing = ["1.25", "4"]
    path = gen.save(ds, d / "mf.dcm")
    raw = path.read_bytes()
    assert raw.count(b"1.25\\4") == 1
    path.write_bytes(raw.replace(b"1.25\\4", b"abc\\4 "))  # same length, not a number


def non_orthogonal_orientation(gen, d):
    ds = _mf(gen)
    ds.DetectorInformationSequence[0].ImageOrientationPatient = ["1", "0", "0", "0.5", "0.5", "0"]
    gen.save(ds, d / "mf.dcm")


bad_slice_vector = _mf_case(SliceVector=[1] * 18)
zero_spacing_between_slices = _mf_case(SpacingBetweenSlices="0")


def all_zero(gen, d):
    gen.save(gen.nm_multiframe(np.zeros((18, 16, 16), np.uint16), gen.Geometry()), d / "mf.dcm")


def constant(gen, d):
    gen.save(gen.nm_multiframe(np.full((18, 16, 16), 321, np.uint16), gen.Geometry()), d / "mf.dcm")


def constant_slices(gen, d):
    gen.save_all(gen.nm_slices(np.full((18, 16, 16), 5, np.uint16), gen.Geometry()), d)


forged_rows_columns = _mf_case(Rows=65535, Columns=65535)
forged_frames = _mf_case(NumberOfFrames=2_000_000_000)


def too_few_frames(gen, d):
    gen.save(gen.nm_multiframe(gen.test_volume((4, 16, 16)), gen.Geometry()), d / "mf.dcm")


def too_few_slices(gen, d):
    gen.save_all(gen.nm_slices(gen.test_volume((5, 16, 16)), gen.Geometry()), d)


file_over_size_limit = _mf_case()  # ~10 kB against a 0.005 MB limit below
tracer_hmpao = _mf_case(tracer="99mTc-HMPAO")
tracer_datscan = _mf_case(tracer="DaTSCAN (ioflupane I-123)")


def mixed_sop_classes(gen, d):
    slices = _slices(gen)
    slices[2].SOPClassUID = gen.PET_STORAGE
    slices[2].Modality = "PT"
    gen.save_all(slices, d)


REJECT = "reject"
CASES = {
    "text-file": (text_file, ErrorCode.NOT_DICOM, {}),
    "empty-file": (empty_file, ErrorCode.NOT_DICOM, {}),
    "random-bytes": (random_bytes, ErrorCode.NOT_DICOM, {}),
    "jpeg-header": (jpeg_header, ErrorCode.NOT_DICOM, {}),
    "dicm-then-garbage": (dicm_then_garbage, ErrorCode.UNREADABLE, {}),
    "truncated-pixel-data": (truncated_pixels, ErrorCode.UNREADABLE, {}),
    "frames-beyond-data": (frames_beyond_data, ErrorCode.UNREADABLE, {}),
    "no-pixel-data": (no_pixel_data, ErrorCode.NO_PIXEL_DATA, {}),
    "ct-modality": (ct_modality, ErrorCode.UNSUPPORTED_MODALITY, {}),
    "secondary-capture": (secondary_capture, ErrorCode.UNSUPPORTED_SOP_CLASS, {}),
    "mixed-sop-classes": (mixed_sop_classes, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "planar-static": (planar_static, ErrorCode.PLANAR, {}),
    "planar-whole-body": (planar_whole_body, ErrorCode.PLANAR, {}),
    "single-2d-image": (single_2d_image, ErrorCode.PLANAR, {}),
    "gated-recon": (gated_recon, ErrorCode.UNSUPPORTED_IMAGE, {}),
    "two-energy-windows": (two_energy_windows, ErrorCode.UNSUPPORTED_IMAGE, {}),
    "colour-pixels": (colour_pixels, ErrorCode.UNSUPPORTED_IMAGE, {}),
    "mixed-matrix": (mixed_matrix, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "uneven-spacing": (uneven_spacing, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "duplicate-positions": (duplicate_positions, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "sheared-stack": (sheared_stack, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "missing-position-slices": (missing_position_slices, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "missing-position-multiframe": (missing_position_multiframe, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "missing-slice-spacing": (missing_slice_spacing, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "missing-pixel-spacing": (missing_pixel_spacing, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "garbage-pixel-spacing": (garbage_pixel_spacing, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "non-orthogonal-orientation": (non_orthogonal_orientation, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "bad-slice-vector": (bad_slice_vector, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "zero-slice-spacing": (zero_spacing_between_slices, ErrorCode.INCONSISTENT_GEOMETRY, {}),
    "all-zero-counts": (all_zero, ErrorCode.DEGENERATE_COUNTS, {}),
    "constant-counts": (constant, ErrorCode.DEGENERATE_COUNTS, {}),
    "constant-counts-slices": (constant_slices, ErrorCode.DEGENERATE_COUNTS, {}),
    "forged-rows-columns": (forged_rows_columns, ErrorCode.IMPLAUSIBLE_SIZE, {}),
    "forged-number-of-frames": (forged_frames, ErrorCode.IMPLAUSIBLE_SIZE, {}),
    "too-few-frames": (too_few_frames, ErrorCode.IMPLAUSIBLE_SIZE, {}),
    "too-few-slices": (too_few_slices, ErrorCode.INCOMPLETE_SERIES, {}),
    "file-over-size-limit": (file_over_size_limit, ErrorCode.IMPLAUSIBLE_SIZE, {"max_file_mb": 0.005}),
    "tracer-hmpao-reject": (tracer_hmpao, ErrorCode.TRACER_NOT_COVERED, {"tracer_policy": REJECT}),
    "tracer-datscan-reject": (tracer_datscan, ErrorCode.TRACER_NOT_COVERED, {"tracer_policy": REJECT}),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_its_code(gen, tmp_path, case):
    build, code, kwargs = CASES[case]
    d = tmp_path / "in"
    d.mkdir()
    build(gen, d)
    limits = {"min_slices": 8, "expected_tracer": "IMP", **kwargs}
    results = load_series([d], **limits)
    assert results, "every case yields at least one result"
    assert {r.status for r in results} == {"rejected"}, [(r.status, r.error) for r in results]
    assert [r.error.code for r in results] == [code] * len(results), [r.error for r in results]
    for r in results:
        assert r.image is None
        assert r.error.message.endswith(".") and "\n" not in r.error.message
        assert "could not be read (" not in r.error.message  # a specific reason, not the catch-all
    files = sorted(p for r in results for p in r.files)
    assert files == sorted(p for p in d.rglob("*") if p.is_file())


def test_tracer_mismatch_with_warn_policy_loads_with_warning(gen, tmp_path):
    tracer_hmpao(gen, tmp_path)
    (r,) = load_series([tmp_path], min_slices=8, expected_tracer="IMP", tracer_policy="warn")
    assert r.ok and r.tracer == "HMPAO"
    assert any("HMPAO" in w for w in r.warnings)


# --- tolerated oddities of real files -------------------------------------------------------

def zero_dates(gen, d):
    ds = _mf(gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom rightly complains while we forge the file
        ds.StudyDate = ds.SeriesDate = ds.PatientBirthDate = "00000000"
    ds.StudyTime = ""
    gen.save(ds, d / "mf.dcm")


utf8_name = _mf_case(SpecificCharacterSet="ISO_IR 192", PatientName="Müller^Zoë=山田^太郎",
                     InstitutionName="Hôpital Saint-Éloi")
iso2022_japanese_name = _mf_case(SpecificCharacterSet=["", "ISO 2022 IR 87"],
                                 PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう")


def undeclared_charset_bytes(gen, d):
    path = gen.save(_mf(gen), d / "mf.dcm")
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"Test^Patient", "Tést^Pâtie".encode("utf-8")))


def deflated(gen, d):
    gen.save(_mf(gen), d / "mf.dcm", transfer_syntax=DeflatedExplicitVRLittleEndian)


def private_tags(gen, d):
    ds = _mf(gen)
    block = ds.private_block(0x0009, "ACME NM RECON", create=True)
    block.add_new(0x01, "LO", "filter=butterworth")
    block.add_new(0x02, "OB", bytes(range(256)) * 8)
    ds.add_new(0x00111010, "UN", b"\x01\x02\x03\x04")
    item = Dataset()
    item.add_new(0x00130010, "LO", "OTHER VENDOR")
    item.add_new(0x00131001, "DS", "1.5")
    ds.add_new(0x00150010, "LO", "SEQ VENDOR")
    ds.add_new(0x00151001, "SQ", Sequence([item]))
    gen.save(ds, d / "mf.dcm")


def no_preamble(gen, d):
    gen.save(_mf(gen), d / "bare.dcm", preamble=False)


def no_preamble_slices(gen, d):
    for k, ds in enumerate(_slices(gen)):
        gen.save(ds, d / f"s{k:02d}", preamble=False)


def over_long_strings(gen, d):
    ds = _mf(gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.PatientID = "P" * 120
        ds.InstitutionName = "Very long institution name " * 10
        ds.SeriesDescription = "x" * 300
    gen.save(ds, d / "mf.dcm")


minimal_modules = _mf_case(tracer=None, without=(
    "Manufacturer", "StudyDescription", "SeriesDescription", "AccessionNumber", "PatientBirthDate",
    "PatientSex", "ReferringPhysicianName", "StudyTime", "EnergyWindowInformationSequence",
    "FrameOfReferenceUID", "SpecificCharacterSet"))
slice_thickness_only = _mf_case(without=("SpacingBetweenSlices",))
no_slice_vector = _mf_case(without=("SliceVector", "FrameIncrementPointer"))
no_image_type = _mf_case(without=("ImageType",))
unknown_tracer = _mf_case(tracer="Tracer X")
signed_pixels = _mf_case(PixelRepresentation=1, BitsStored=15, HighBit=14)


def duplicate_files(gen, d):
    path = gen.save(_mf(gen), d / "a" / "mf.dcm")
    (d / "b").mkdir()
    (d / "b" / "again.dcm").write_bytes(path.read_bytes())


TOLERATED = {
    "zero-dates": (zero_dates, 0),
    "utf8-name": (utf8_name, 0),
    "iso2022-japanese-name": (iso2022_japanese_name, 0),
    "undeclared-charset-bytes": (undeclared_charset_bytes, 0),
    "deflated-transfer-syntax": (deflated, 0),
    "private-tags": (private_tags, 0),
    "no-preamble": (no_preamble, 0),
    "no-preamble-slices": (no_preamble_slices, 0),
    "over-long-strings": (over_long_strings, 0),
    "minimal-modules-no-tracer": (minimal_modules, 1),
    "slice-thickness-only": (slice_thickness_only, 1),
    "no-slice-vector": (no_slice_vector, 1),
    "no-image-type": (no_image_type, 1),
    "unknown-tracer": (unknown_tracer, 1),
    "signed-pixels": (signed_pixels, 0),
    "duplicate-files": (duplicate_files, 0),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(TOLERATED))
def test_tolerated_oddities_load(gen, tmp_path, case):
    build, n_warnings = TOLERATED[case]
    d = tmp_path / "in"
    d.mkdir()
    build(gen, d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom's complaints go to the debug log, not the console
        (r,) = load_series([d], min_slices=8, expected_tracer="IMP", tracer_policy="reject")
    assert r.ok, r.error
    assert len(r.warnings) == n_warnings, r.warnings
    assert r.matrix == (16, 16, 18)
    assert r.header is not None and "PixelData" not in r.header
    assert len(r.files) == sum(1 for p in d.rglob("*") if p.is_file())
    # The voxel values survive every oddity: compare with the clean volume.
    arr = sitk.GetArrayFromImage(r.image)
    assert np.array_equal(np.sort(arr.ravel()), np.sort(_vol(gen).astype(np.float32).ravel()))
