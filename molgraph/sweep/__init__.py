"""Hyperparameter sweeps: a search space over the run configuration's dotted names, an Optuna
objective that trains one :class:`~molgraph.training.config.RunConfig` per trial, and a study
that lives beside its results (``DIR/optuna.log``) so a stopped sweep resumes.

Modules: ``space`` (what is searched; no Optuna import), ``feasible`` (spaces that can never
train, refused up front), ``objective`` (one trial), ``storage`` (the study's storage, checked
before Optuna reads it; failing trials whose process died), ``resume`` (one study per
directory, the same input files by content), ``distributions`` (a resumed space against the
study's), ``workers`` (worker processes), ``optuna_logs`` (Optuna's own lines), ``report``
(``best/``, ``best_config.json``, ``sweep.json``), ``study`` (``open_study``, ``run_trials``,
``run_study``) and ``run`` (``run_sweep``, tracked). Optuna is imported only in the sweep
modules the import-linter contract in ``pyproject.toml`` lists.
"""
