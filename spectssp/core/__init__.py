"""Pure numeric core of 3D-SSP: arrays in, arrays out.

No file, DICOM, registration, torch or network imports here (a test enforces it), so the
science can be checked in isolation and runs in milliseconds.
"""
