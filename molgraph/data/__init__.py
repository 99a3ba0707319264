"""Labelled data sets: molecules with their labels, the featurization cache, and splits."""
