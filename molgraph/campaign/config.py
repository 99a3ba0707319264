"""The settings of a screening campaign, without importing torch, so the command line builds its
flags from them cheaply (``molgraph active``: one flag per field)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molgraph.models.config import MODEL_NAMES

#: fingerprint surrogates beside the molgraph models (``campaign.surrogates``)
FINGERPRINT_SURROGATES = ("rf", "svm")
SURROGATES = (*MODEL_NAMES, *FINGERPRINT_SURROGATES)
#: acquisition functions (``campaign.acquisition``)
ACQUISITIONS = ("greedy", "ucb", "thompson", "ei", "pi", "random")
#: settings a resumed campaign may change: they do not decide which molecules were acquired
CHANGEABLE = ("out", "oracle", "iterations", "budget", "top_k", "window", "delta",
              "oracle_workers", "oracle_timeout", "oracle_chunk", "workers", "scheduler",
              "threads", "resume", "pictures")
#: rounds after the initial batch when neither ``iterations`` nor ``budget`` is given
DEFAULT_ITERATIONS = 5


@dataclass
class CampaignConfig:
    """A screening campaign: a pool, an oracle, a surrogate, an acquisition function, a budget.

    Attributes:
        library: the pool: a molecule file (.smi, CSV/TSV, SDF; plain or gzipped) featurized
            once into DIR/pool/, or a store made by molgraph featurize (used where it is).
        out: the campaign directory (acquired.csv, rounds/NNN/, plots/, campaign.json).
        oracle: lookup:FILE (a table of SMILES and scores), command:"CMD" (a program run on
            {input}, a SMILES file, that writes {output}, lines of ID and score), or none:
            the lab (each round writes the molecules to measure and stops until they are
            filled in).
        init: the first batch: a count, a percentage of the pool ('1%'), or a file of
            molecules already labelled (SMILES and score columns).
        batch: molecules acquired per round: a count or a percentage of the pool.
        iterations: acquisition rounds after the first batch (default: 5 unless --budget).
        budget: the most molecules to acquire in all, first batch included: a count or a
            percentage of the pool (default: no limit but --iterations).
        seed: fixes the first batch, the surrogates' training and Thompson draws.
        minimize: lower oracle values are better (docking scores), not higher.
        surrogate: the model that predicts the pool: a molgraph model (dmpnn, gcn, ...,
            trained with molgraph.train), or rf (ECFP4 random forest, its trees' variance as
            uncertainty) or svm (Tanimoto-kernel SVM on ECFP4, no uncertainty).
        acquisition: greedy (the best predicted mean), ucb (mean + beta * sd), thompson (a
            draw from each molecule's predicted normal), ei and pi (expected improvement and
            probability of improvement over the best value so far), random.
        beta: ucb's weight of the predicted standard deviation.
        xi: ei's and pi's margin over the best value so far, in oracle units.
        diversity: the highest Tanimoto similarity (ECFP4) two molecules of one batch may
            have (e.g. 0.7); none: no limit.
        ensemble_size: members of a molgraph surrogate, whose spread is its uncertainty.
        mc_samples: MC dropout instead of an ensemble: one molgraph model trained with
            dropout (the run configuration's, else 0.1) kept on at prediction, the spread of
            this many passes its uncertainty; 0: the ensemble.
        mve: a mean-variance head on a molgraph surrogate, trained with the Gaussian
            likelihood: its variance is an uncertainty (added to the members' spread).
        epochs: maximum training epochs of a molgraph surrogate.
        blend: blend a molgraph surrogate with a Tanimoto SVM on ECFP4, its weight chosen on
            the held-out tenth (as molgraph train does).
        run_config: a run configuration JSON (e.g. run_config.json of a molgraph train run)
            whose model and training settings a molgraph surrogate uses.
        top_k: the k of the top-k average (a count or a percentage of the pool): the
            stopping rule watches it, and with a lookup oracle the share of the true top-k
            found is reported.
        window: stop once the top-k average improved by less than delta (a fraction of the
            average W rounds before) over the last W rounds; 0 turns the rule off.
        delta: see window.
        score_column: the score column of a lookup table or an --init file (default: score,
            else the only column of numbers).
        smiles_column: the SMILES column of the pool and the files (found automatically for
            common names).
        oracle_workers: command calls run at once.
        oracle_timeout: seconds a command call may take; its molecules then fail (default:
            no limit).
        oracle_chunk: molecules per command or Python oracle call (default: one per command
            call, the whole batch per Python call).
        workers: processes featurizing and scoring the pool (default: one per CPU).
        scheduler: address of a Dask scheduler (tcp://host:8786) to score the pool on.
        threads: torch threads for training, and jobs of the random forest.
        resume: continue the campaign in --out (after a kill, or once the lab filled in).
        pictures: draw DIR/plots/ after every round.
    """

    library: str
    out: str
    oracle: str | None = None
    init: str = "1%"
    batch: str = "1%"
    iterations: int | None = None
    budget: str | None = None
    seed: int = 0
    minimize: bool = False
    surrogate: str = field(default="dmpnn", metadata={"choices": SURROGATES})
    acquisition: str = field(default="greedy", metadata={"choices": ACQUISITIONS})
    beta: float = 2.0
    xi: float = 0.01
    diversity: float | None = None
    ensemble_size: int = 3
    mc_samples: int = 0
    mve: bool = False
    epochs: int = 50
    blend: bool = True
    run_config: str | None = None
    top_k: str = "100"
    window: int = 3
    delta: float = 0.01
    score_column: str | None = None
    smiles_column: str | None = None
    oracle_workers: int = 1
    oracle_timeout: float | None = None
    oracle_chunk: int | None = None
    workers: int | None = None
    scheduler: str | None = None
    threads: int | None = None
    resume: bool = False
    pictures: bool = True

    def __post_init__(self) -> None:
        self.library, self.out = str(self.library), str(self.out)
        if self.surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.surrogate!r}; choose from "
                             f"{', '.join(SURROGATES)}")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {self.acquisition!r}; choose from "
                             f"{', '.join(ACQUISITIONS)}")
        for name, least in (("iterations", 0), ("ensemble_size", 1), ("epochs", 1),
                            ("window", 0), ("oracle_workers", 1), ("oracle_chunk", 1),
                            ("workers", 0), ("threads", 1)):
            value = getattr(self, name)
            if value is not None and value < least:
                raise ValueError(f"--{name.replace('_', '-')} must be at least {least}, "
                                 f"not {value}")
        for name in ("beta", "xi", "delta", "oracle_timeout"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a number of at least 0, "
                                 f"not {value}")
        if self.diversity is not None and not 0 < self.diversity < 1:
            raise ValueError(f"--diversity must be a Tanimoto similarity between 0 and 1 "
                             f"(exclusive), not {self.diversity}")
        for name in ("batch", "budget", "top_k"):
            if getattr(self, name) is not None:
                amount(getattr(self, name), 100, name)  # refused now, not after featurizing
        if not self.init_file:
            amount(self.init, 100, "init")
        if self.surrogate == "svm" and self.acquisition not in ("greedy", "random"):
            raise ValueError(f"--acquisition {self.acquisition} needs an uncertainty and the svm "
                             "surrogate gives none: use greedy, or the rf surrogate or a "
                             "molgraph model (--ensemble-size 2 or more)")
        if self.mc_samples < 0 or self.mc_samples == 1:
            raise ValueError(f"--mc-samples must be 0 (an ensemble) or at least 2 (MC dropout "
                             f"passes), not {self.mc_samples}")
        if self.surrogate in MODEL_NAMES and self.ensemble_size < 2 and not self.mc_samples \
                and not self.mve and self.acquisition not in ("greedy", "random"):
            raise ValueError(f"--acquisition {self.acquisition} needs an uncertainty: give "
                             "--ensemble-size 2 or more (the members' spread), --mc-samples "
                             "(MC dropout) or --mve (a mean-variance head), or use greedy")

    @property
    def init_file(self) -> Path | None:
        """The file of labelled molecules ``init`` names, or ``None`` for a count."""
        text = self.init.strip()
        if text.endswith("%") or text.isdigit():
            return None
        return Path(text)

    @property
    def rounds(self) -> int | None:
        """Acquisition rounds after the first batch, or ``None``: only the budget limits."""
        if self.iterations is None and self.budget is None:
            return DEFAULT_ITERATIONS
        return self.iterations

    def signature(self) -> dict[str, Any]:
        """The settings that decide which molecules are acquired: a resumed campaign must
        keep them."""
        kept = {k: v for k, v in vars(self).items() if k not in CHANGEABLE}
        for name in ("library", "run_config", "init"):  # the same file however it is named
            value = kept[name]
            if value is not None and ":" not in value and Path(value).exists():
                kept[name] = str(Path(value).resolve())
        return kept


def amount(text: str, pool_size: int, name: str) -> int:
    """``text`` as a number of molecules: ``"106"`` or a percentage of ``pool_size``
    (``"1%"`` of 10,560 is 106, rounded, at least 1)."""
    given = str(text).strip()
    try:
        if given.endswith("%"):
            share = float(given[:-1])
            if not 0 < share <= 100:
                raise ValueError
            return max(1, round(pool_size * share / 100))
        count = int(given)
        if count < 1:
            raise ValueError
        return count
    except ValueError:
        raise ValueError(f"--{name.replace('_', '-')} must be a count of molecules (106) or "
                         f"a percentage of the pool (1%), not {text!r}") from None
