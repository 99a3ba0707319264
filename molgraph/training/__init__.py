"""Training: the run configuration, the loop (masked losses, early stopping), metrics, and the
training job that turns a data file into a saved model with its metrics."""
