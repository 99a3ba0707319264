"""Hyperparameter sweeps: a search space over the run configuration's dotted names, an Optuna
objective that trains one :class:`~molgraph.training.config.RunConfig` per trial, and a study
that lives beside its results (``DIR/optuna.log``) so a stopped sweep resumes.

Modules: ``space`` (what is searched; no Optuna import), ``objective`` (one trial),
``storage`` (the study's storage; failing trials whose process died), ``workers`` (worker
processes), ``report`` (``best/``, ``best_config.json``, ``sweep.json``) and ``study``
(``run_study``). Optuna is imported only here (see the import-linter contract in
``pyproject.toml``).
"""
