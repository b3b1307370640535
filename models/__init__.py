"""spectssp classifiers: training-data simulation from the normal database (the seed paper's
protocol and ours), network factories, training, inference with Grad-CAM, and evaluation.

Torch is imported by the modules that need it only (``networks``, ``train``, ``inference``,
``evaluate``); ``simulate``, ``features`` and ``metrics`` are numpy only.
"""
CLASSES: tuple[str, ...] = ("AD", "DLB", "NC")

__all__ = ["CLASSES"]
