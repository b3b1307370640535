"""DICOM outputs: Secondary Capture images and a Comprehensive SR in the source study."""
from processor.dicom_out.common import RUO_TEXT, OutputRecord
from processor.dicom_out.sanitize import sanitize_reference
from processor.dicom_out.secondary_capture import write_secondary_capture
from processor.dicom_out.structured_report import STATS_ONLY_TEXT, write_structured_report

__all__ = ["OutputRecord", "RUO_TEXT", "STATS_ONLY_TEXT", "sanitize_reference",
           "write_secondary_capture", "write_structured_report"]
