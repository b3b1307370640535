"""What intake hands to the pipeline: one :class:`SeriesIntake` per series."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import SimpleITK as sitk
from pydicom.dataset import Dataset

from processor.intake.tracer import TracerId
from spectssp.errors import SpectSSPError


@dataclass
class SeriesIntake:
    """One series: accepted with its volume, or rejected with a code and a sentence.

    ``files`` lists every input file that belongs here (duplicates included), so that each
    input appears in exactly one result. ``header`` is the first instance without pixel data,
    kept to copy the patient and study modules into output objects.
    """

    series_uid: str | None
    study_uid: str | None
    files: list[Path]
    status: Literal["ok", "rejected"] = "ok"
    error: SpectSSPError | None = None
    image: sitk.Image | None = None
    header: Dataset | None = None
    warnings: list[str] = field(default_factory=list)
    patient_id: str | None = None
    study_date: str | None = None
    accession_number: str | None = None
    modality: str | None = None
    matrix: tuple[int, int, int] | None = None         # x, y, z voxels
    spacing_mm: tuple[float, float, float] | None = None  # x, y, z
    tracer: str | None = None                           # normalised (IMP, HMPAO, ECD, ...) or None
    tracer_text: str | None = None                      # as written in the header
    tracer_id: TracerId = field(default_factory=TracerId)   # name, radionuclide and the evidence
    tracer_match: str | None = None                     # the covered tracer whose database takes it
    layout: Literal["multiframe", "slices"] | None = None
    read_s: float = 0.0                                 # reading it: its pixels plus its share of the headers

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def reject(self, error: SpectSSPError) -> "SeriesIntake":
        """Mark rejected and release the volume (a rejected series keeps no pixel data)."""
        self.status, self.error, self.image = "rejected", error, None
        return self
