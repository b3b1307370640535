"""Pictures of the atlas surface: view images on a fixed canvas and the CNN's 4-view composite."""
