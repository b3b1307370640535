"""Pictures readers know: the 3D-SSP sheet and the CNN composite (2x2 or 2x3 views)."""
