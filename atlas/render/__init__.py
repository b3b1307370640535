"""Pictures of the atlas surface: view images on a fixed canvas and the CNN's composite (2x2 or 2x3 views)."""
