"""spectssp classifiers: training-data simulation from the normal database (the seed paper's
protocol and ours), network factories, training, inference with Grad-CAM, and evaluation.

Torch is imported by the modules that need it only (``networks``, ``train``, ``inference``,
``evaluate``); ``simulate``, ``features`` and ``metrics`` are numpy only.
"""
from pathlib import Path

CLASSES: tuple[str, ...] = ("AD", "DLB", "NC")
CARD_SCHEMA = "spectssp.model/1"   # model.json, written by train, read by inference
# The phantom-trained model shipped with the package (demonstration and tests only).
BUNDLED_MODEL_DIR = (Path(__file__).resolve().parent / "bundled").resolve()

__all__ = ["BUNDLED_MODEL_DIR", "CARD_SCHEMA", "CLASSES"]
