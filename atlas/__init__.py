"""spectssp standard space: MNI152 2 mm grid, SPECT template, VOI labels, 3D-SSP surface,
normal databases."""
from atlas.load import Atlas, load_atlas

__all__ = ["Atlas", "load_atlas"]
