"""Inference: the saved-model artifact (a directory a training run writes), prediction on
molecule files keeping every row, and ensembles of saved models."""
