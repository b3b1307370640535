"""Pictures readers know: the 3D-SSP sheet and the 4-view CNN composite."""
