"""Known volume + geometry -> DICOM -> intake gives the same voxels at the same world positions."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError
from processor.intake import load_series, read_volume


def world_of_truth(gen, vol, geo):
    """World (LPS) centre of every voxel of the truth volume, (z, y, x, 3)."""
    k, j, i = np.indices(vol.shape)
    idx = np.stack([i, j, k, np.ones_like(i)], axis=-1).astype(float)
    return (idx @ geo.affine().T)[..., :3]


def image_affine(img: sitk.Image) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = np.array(img.GetDirection()).reshape(3, 3) @ np.diag(img.GetSpacing())
    a[:3, 3] = img.GetOrigin()
    return a


def assert_same_world(gen, vol, geo, img, *, scale=1.0, offset=0.0):
    """Every truth voxel centre lands on a voxel centre of ``img`` holding the same value.

    The required tolerance is half a voxel; in practice the geometry is exact, and the
    check uses 1 % of a voxel so that a half-voxel shift would fail too.
    """
    assert img.GetPixelID() == sitk.sitkFloat32
    assert sorted(img.GetSize()) == sorted(vol.shape)
    world = world_of_truth(gen, vol, geo).reshape(-1, 3)
    inv = np.linalg.inv(image_affine(img))
    cont = world @ inv[:3, :3].T + inv[:3, 3]
    rounded = np.rint(cont)
    assert np.max(np.abs(cont - rounded)) < 0.01
    size = np.array(img.GetSize())
    assert (rounded >= 0).all() and (rounded < size).all()
    arr = sitk.GetArrayFromImage(img)
    ri = rounded.astype(int)
    got = arr[ri[:, 2], ri[:, 1], ri[:, 0]]
    np.testing.assert_allclose(got, vol.reshape(-1) * scale + offset, rtol=1e-6)
    # The corners explicitly, through SimpleITK's own index -> point mapping.
    nz, ny, nx = vol.shape
    for (i, j, k) in [(0, 0, 0), (nx - 1, 0, 0), (0, ny - 1, 0), (0, 0, nz - 1), (nx - 1, ny - 1, nz - 1)]:
        truth = geo.affine() @ [i, j, k, 1]
        index = img.TransformPhysicalPointToIndex(tuple(truth[:3]))
        point = img.TransformIndexToPhysicalPoint(index)
        assert np.linalg.norm(np.subtract(point, truth[:3])) < 0.5 * min(geo.spacing)
        assert arr[index[2], index[1], index[0]] == pytest.approx(vol[k, j, i] * scale + offset)


def directions(gen):
    return {
        "axial": np.eye(3),
        "axial-negative": gen.flip_slices(np.eye(3)),
        "oblique": gen.rotation(12, -7, 25),
        "oblique-negative": gen.flip_slices(gen.rotation(12, -7, 25)),
        "coronal-negative": gen.flip_slices(np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)),
    }


DIRECTIONS = ["axial", "axial-negative", "oblique", "oblique-negative", "coronal-negative"]


@pytest.mark.parametrize("layout", ["multiframe", "slices", "slices-detector"])
@pytest.mark.parametrize("name", DIRECTIONS)
def test_round_trip_world_coordinates(gen, tmp_path, layout, name):
    vol = gen.test_volume()
    geo = gen.Geometry(origin=(-81.3, -110.25, -47.5), spacing=(3.3, 3.1, 4.2),
                       direction=directions(gen)[name])
    if layout == "multiframe":
        gen.save(gen.nm_multiframe(vol, geo), tmp_path / "mf.dcm")
    else:
        gen.save_all(gen.nm_slices(vol, geo, in_detector=layout.endswith("detector")), tmp_path)
    (r,) = load_series([tmp_path], expected_tracer="IMP", tracer_policy="reject")
    assert r.ok, r.error
    assert r.layout == layout.split("-")[0]
    assert r.tracer == "IMP" and r.warnings == []
    assert_same_world(gen, vol, geo, r.image)
    assert r.spacing_mm == pytest.approx((3.3, 3.1, 4.2))


@pytest.mark.parametrize("name", DIRECTIONS)
def test_multiframe_agrees_with_simpleitk_reader(gen, tmp_path, name):
    vol = gen.test_volume()
    geo = gen.Geometry(direction=directions(gen)[name])
    path = gen.save(gen.nm_multiframe(vol, geo), tmp_path / "mf.dcm")
    ref = sitk.ReadImage(str(path))
    ours, header = read_volume([path], min_slices=1)
    assert ours.GetSize() == ref.GetSize()
    np.testing.assert_allclose(ours.GetOrigin(), ref.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(ours.GetSpacing(), ref.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(ours.GetDirection(), ref.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(ref).astype(np.float32))
    assert "PixelData" not in header


@pytest.mark.parametrize("modality", ["NM", "PT"])
@pytest.mark.parametrize("name", ["oblique", "oblique-negative"])
def test_slices_agree_with_simpleitk_series_reader(gen, tmp_path, name, modality):
    """GDCM reads NM slice position from DetectorInformationSequence, PET from the top level."""
    vol = gen.test_volume()
    geo = gen.Geometry(direction=directions(gen)[name])
    sop = gen.NM_STORAGE if modality == "NM" else gen.PET_STORAGE
    gen.save_all(gen.nm_slices(vol, geo, modality=modality, sop_class=sop, in_detector=modality == "NM"),
                 tmp_path)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(tmp_path)))
    ref = reader.Execute()
    ours, _ = read_volume([tmp_path])
    assert_same_world(gen, sitk.GetArrayFromImage(ref), _grid_of(gen, ref), ours)
    assert_same_world(gen, vol, geo, sitk.Cast(ref, sitk.sitkFloat32))  # and both agree with the truth


def _grid_of(gen, img):
    return gen.Geometry(origin=img.GetOrigin(), spacing=img.GetSpacing(),
                        direction=np.array(img.GetDirection()).reshape(3, 3))


def test_rescale_slope_intercept_applied(gen, tmp_path):
    vol = gen.test_volume()
    geo = gen.Geometry()
    gen.save(gen.nm_multiframe(vol, geo, slope=0.25, intercept=-3), tmp_path / "mf.dcm")
    img, _ = read_volume([tmp_path])
    assert_same_world(gen, vol, geo, img, scale=0.25, offset=-3)


def test_pet_slices_rescale_per_slice(gen, tmp_path):
    vol = gen.test_volume()
    geo = gen.Geometry(direction=gen.rotation(0, 0, 10))
    slices = gen.nm_slices(vol, geo, modality="PT", sop_class=gen.PET_STORAGE, shuffle=False,
                           tracer="FDG")
    for k, ds in enumerate(slices):
        ds.RescaleSlope = str(1 + k / 10)
        ds.RescaleIntercept = "0"
    gen.save_all(slices, tmp_path)
    (r,) = load_series([tmp_path], expected_tracer="IMP", tracer_policy="warn")
    assert r.ok and r.modality == "PT" and r.tracer == "FDG"
    assert any("FDG" in w and "IMP" in w for w in r.warnings)
    scales = 1 + np.arange(vol.shape[0]) / 10
    assert_same_world(gen, vol * scales[:, None, None], geo, r.image)


def test_slice_vector_reorders_frames(gen, tmp_path):
    """Frames stored out of order are put back by SliceVector, with the origin of slice 1."""
    vol = gen.test_volume()
    geo = gen.Geometry(direction=gen.flip_slices(gen.rotation(5, 5, 5)))
    sv = list(range(1, vol.shape[0] + 1))
    sv = sv[3:] + sv[:3]
    ds = gen.nm_multiframe(vol, geo, slice_vector=sv)
    # ImagePositionPatient describes the first stored frame, which is slice sv[0].
    first = np.asarray(geo.origin) + (sv[0] - 1) * geo.spacing[2] * np.asarray(geo.direction)[:, 2]
    ds.DetectorInformationSequence[0].ImagePositionPatient = [gen.ds_str(x) for x in first]
    gen.save(ds, tmp_path / "mf.dcm")
    img, _ = read_volume([tmp_path])
    assert_same_world(gen, vol, geo, img)


def test_duplicates_dropped_and_every_file_accounted_for(gen, tmp_path):
    vol = gen.test_volume()
    paths = gen.save_all(gen.nm_slices(vol, gen.Geometry()), tmp_path / "a")
    dup = tmp_path / "b" / "copy.dcm"
    dup.parent.mkdir()
    shutil.copy(paths[5], dup)
    gen.save(gen.nm_multiframe(vol, gen.Geometry(), seed="other"), tmp_path / "c" / "mf.dcm")
    (tmp_path / "notes.txt").write_text("not dicom")
    results = load_series([tmp_path])
    inputs = sorted(str(p) for r in results for p in r.files)
    assert inputs == sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert [r.status for r in results].count("ok") == 2
    slices = next(r for r in results if r.layout == "slices")
    assert slices.matrix == (22, 24, 20) and len(slices.files) == 21 and slices.warnings == []
    bad = next(r for r in results if not r.ok)
    assert bad.series_uid is None and bad.error.code == ErrorCode.NOT_DICOM


def test_same_sop_uid_different_content_warns(gen, tmp_path):
    vol = gen.test_volume()
    datasets = gen.nm_slices(vol, gen.Geometry(), shuffle=False)
    gen.save_all(datasets, tmp_path)
    clash = datasets[3].copy()
    clash.SeriesDescription = "changed"
    gen.save(clash, tmp_path / "zz-clash.dcm")
    (r,) = load_series([tmp_path])
    assert r.ok and len(r.files) == 21
    assert any("different content" in w for w in r.warnings)


def test_summary_fields_and_header(gen, tmp_path):
    vol = gen.test_volume()
    gen.save(gen.nm_multiframe(vol, gen.Geometry()), tmp_path / "mf.dcm")
    (r,) = load_series([tmp_path])
    assert (r.patient_id, r.study_date, r.modality, r.tracer) == ("PID001", "20240131", "NM", "IMP")
    assert r.study_uid == r.header.StudyInstanceUID and r.series_uid == r.header.SeriesInstanceUID
    assert r.header.PatientName == "Test^Patient"


def test_missing_input_path_is_an_input_error(tmp_path):
    with pytest.raises(SpectSSPError) as exc:
        load_series([tmp_path / "nope"])
    assert exc.value.code == ErrorCode.INPUT_NOT_FOUND
