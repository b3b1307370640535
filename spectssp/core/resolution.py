"""Resolution harmonisation: bring every study to one effective spatial resolution before 3D-SSP.

Why: a SPECT study's effective resolution (collimator, radius, reconstruction filter, voxel
size) changes the cortical peak that 3D-SSP takes along each surface normal. A blurrier scan
has lower cortical peaks, most in thin or folded cortex (parietal, the medial wall), and
against a normal database of sharper scans it looks like hypoperfusion. Multi-site PET studies
remove this by smoothing every scan to a common, coarser resolution (ADNI's "uniform 8 mm
resolution" step); we do the same for SPECT, with the common resolution a configured target
just coarser than the blurriest scan expected. The normal database and the simulated training
images go through the same step, so the statistics compare like with like.

A study's own resolution is rarely in its header, so it is estimated: the study, registered to
the atlas grid, is correlated with the atlas's noise-free perfusion model blurred to a ladder
of candidate FWHMs; the best-matching FWHM (refined by a parabola through the peak) is the
estimate. Correlation ignores the global count level, so only the spatial spread matters.

Pure numpy/scipy, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
CANDIDATES_MM = tuple(float(f) for f in np.arange(4.0, 26.01, 1.0))
COARSER_MARGIN_MM = 0.5   # an estimate this far above the target counts as coarser (not noise)


def is_coarser(estimated_mm: float, target_mm: float) -> bool:
    """Whether a study is coarser than the target: harmonisation cannot sharpen it."""
    return estimated_mm > target_mm + COARSER_MARGIN_MM


def smooth_fwhm(volume: np.ndarray, fwhm_mm: float, voxel_mm: float) -> np.ndarray:
    """Isotropic Gaussian smoothing of ``fwhm_mm`` (no-op below 0.1 mm)."""
    if fwhm_mm < 0.1:
        return volume.astype(np.float32, copy=False)
    from scipy import ndimage  # deferred: scipy.ndimage costs 0.3 s of start-up ('spectssp process' rejects a study without it)
    sigma = fwhm_mm * SIGMA_PER_FWHM / voxel_mm
    return ndimage.gaussian_filter(volume.astype(np.float32, copy=False), sigma, mode="constant",
                                   truncate=3.5).astype(np.float32)


def kernel_to_target(fwhm_mm: float, target_mm: float) -> float:
    """FWHM of the Gaussian that takes a ``fwhm_mm`` image to ``target_mm`` (0 if already coarser)."""
    return float(np.sqrt(max(target_mm ** 2 - fwhm_mm ** 2, 0.0)))


@dataclass(frozen=True)
class Harmonised:
    volume: np.ndarray
    estimated_fwhm_mm: float
    kernel_fwhm_mm: float
    target_fwhm_mm: float

    @property
    def coarser_than_target(self) -> bool:
        return is_coarser(self.estimated_fwhm_mm, self.target_fwhm_mm)

    def summary(self) -> dict[str, float]:
        """Estimated, kernel and target FWHM in mm, as result.json and the SR report them."""
        return {"estimated_fwhm_mm": round(self.estimated_fwhm_mm, 2), "kernel_fwhm_mm": round(self.kernel_fwhm_mm, 2),
                "target_fwhm_mm": round(self.target_fwhm_mm, 2)}


class ResolutionMatcher:
    """Blurred copies of a sharp reference at candidate FWHMs, standardised inside a mask."""

    def __init__(self, sharp: np.ndarray, mask: np.ndarray, voxel_mm: float,
                 candidates_mm: tuple[float, ...] = CANDIDATES_MM, references: np.ndarray | None = None) -> None:
        """``references``: the blurred references this constructor built earlier from the same
        inputs (a cache, see atlas.resolution_cache), so that seconds of smoothing are not repeated."""
        if len(candidates_mm) < 3 or any(b <= a for a, b in zip(candidates_mm, candidates_mm[1:])):
            raise ValueError("need at least 3 increasing candidate FWHMs")
        self.voxel_mm = float(voxel_mm)
        self.candidates = np.asarray(candidates_mm, np.float64)
        self.index = np.flatnonzero(mask.ravel())
        if references is None:
            rows = [_standardise(smooth_fwhm(sharp, f, voxel_mm).ravel()[self.index]) for f in self.candidates]
            # float64: near the peak the correlation curve is flat at large FWHMs, and the parabola
            # through it should not see rounding (about 60 MB on the atlas grid)
            references = np.stack(rows)
        elif references.shape != (len(self.candidates), self.index.size) or references.dtype != np.float64:
            raise ValueError(f"references of shape {references.shape} ({references.dtype}) do not fit "
                             f"{len(self.candidates)} candidates x {self.index.size} voxels (float64)")
        self.references = references          # (C, N), each zero mean, unit norm

    def correlations(self, volume: np.ndarray) -> np.ndarray:
        """Pearson correlation of ``volume`` with each blurred reference, inside the mask."""
        return self.references @ _standardise(volume.ravel()[self.index].astype(np.float64))

    def estimate(self, volume: np.ndarray) -> float:
        """Effective FWHM (mm) of ``volume``: the best-matching candidate, refined by a parabola."""
        r = self.correlations(volume)
        i = int(np.argmax(r))
        if i == 0 or i == len(r) - 1:
            return float(self.candidates[i])
        y0, y1, y2 = r[i - 1], r[i], r[i + 1]
        denom = y0 - 2.0 * y1 + y2
        shift = 0.0 if denom >= 0 else float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5))
        step = 0.5 * (self.candidates[i + 1] - self.candidates[i - 1])
        return float(self.candidates[i] + shift * step)

    def harmonise(self, volume: np.ndarray, target_mm: float, estimate_on: np.ndarray | None = None) -> Harmonised:
        """``volume`` smoothed to ``target_mm`` effective FWHM (unchanged if already coarser);
        the resolution is estimated on ``estimate_on`` when given (the same study, resampled
        another way), else on ``volume``."""
        fwhm = self.estimate(volume if estimate_on is None else estimate_on)
        kernel = kernel_to_target(fwhm, target_mm)
        return Harmonised(smooth_fwhm(volume, kernel, self.voxel_mm), fwhm, kernel, float(target_mm))


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64) - x.mean(dtype=np.float64)
    norm = float(np.linalg.norm(x))
    if norm == 0.0:
        raise ValueError("the image is constant inside the brain; its resolution cannot be estimated")
    return x / norm
