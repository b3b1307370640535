"""spectssp runtime: intake, registration, the pipeline, outputs, daemon, network, command line.

The top layer of the project (see docs/architecture.md): it may import ``models``, ``atlas``
and ``spectssp``; none of them imports it. Research use only - not for diagnosis.
"""
