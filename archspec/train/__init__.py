"""The generic trainer: configuration, data, the loop, checkpoints and metrics."""
