"""DICOM intake: files to validated 3D volumes, one per series.

``load_series`` (or ``scan_series``, one series' pixels at a time) finds files, groups them
by SeriesInstanceUID, drops duplicate SOP instances, builds a float32 SimpleITK image with exact LPS geometry for both vendor layouts
(one NM multi-frame object, or one file per slice) and decides per series: accepted, or
rejected with a stable error code (:mod:`spectssp.errors`) and one sentence.
"""
from __future__ import annotations

import logging

from processor.intake.discover import FileHeader, find_files, read_header
from processor.intake.geometry import Grid
from processor.intake.load import SeriesScan, intake_options, load_series, read_volume, scan_series
from processor.intake.result import SeriesIntake
from processor.intake.tracer import TracerId, identify, normalise_tracer, tracer_of
from processor.intake.volume import multiframe_volume, to_image

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "FileHeader", "Grid", "SeriesIntake", "SeriesScan", "TracerId", "identify", "find_files", "intake_options", "load_series",
    "multiframe_volume", "normalise_tracer", "read_header", "read_volume", "scan_series", "to_image", "tracer_of",
]
