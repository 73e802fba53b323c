"""PyTorch backend of the gpstoken toolkit: models, renderer, metrics, training, generation."""
