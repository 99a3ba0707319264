"""Screening campaigns: active learning over a compound library (``molgraph active``).

A campaign acquires a library's molecules batch by batch: an oracle (a lookup table, an
external program, a Python function, or the lab) gives the acquired ones their values, a
surrogate trained on every value so far predicts the rest of the pool, and an acquisition
function picks the next batch. The parts, MolPAL's, each in its own module:

- ``pool``: the library, featurized once into a store;
- ``oracles``, ``command``, ``lab``: what gives a molecule its value;
- ``surrogates``, ``gnn``: models of the oracle, returning means and variances;
- ``acquisition``: acquisition functions, pure functions of arrays; ``selection``: the batch;
- ``state``: the campaign directory; ``rounds``, ``loop``: the rounds; ``metrics``,
  ``pictures``, ``runs``: what is measured, drawn and logged to MLflow.

The calls: ``molgraph.run_campaign(molgraph.CampaignConfig(...), oracle=...)``.
"""
