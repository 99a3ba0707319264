"""Pretraining an encoder on unlabelled molecules (``molgraph pretrain``), CheMeleon's recipe:
a D-MPNN learns to predict standardised RDKit descriptors of a large library, a random 15 % of
the targets hidden at each step; ``train --init-from DIR`` fine-tunes from it."""

from molgraph.pretrain.config import PretrainConfig
from molgraph.pretrain.result import PretrainResult
from molgraph.pretrain.run import pretrain_encoder

__all__ = ["PretrainConfig", "PretrainResult", "pretrain_encoder"]
