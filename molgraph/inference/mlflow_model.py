"""A saved molgraph model as an MLflow model (``pyfunc`` flavour, logged "from code").

MLflow 3's models-from-code: this file itself is what is logged as ``python_model``; MLflow
runs it when the model is loaded, and it ends with ``mlflow.models.set_model(...)``. The saved
model directory (``config.json``, ``weights.pt`` and the optional ``svm.npz``, ``domain.npz``)
travels as the artifact ``model``, so nothing is pickled. Predictions keep every input row in
order: an invalid SMILES gets empty predictions (``null`` in the served JSON, never ``NaN``,
which strict JSON parsers such as ``JSON.parse`` reject), ``valid`` false and the reason in
``error`` (as ``molgraph predict`` does).

Output columns: ``<target>_pred`` for each target (probabilities for classification), each
followed by ``<target>_std`` for an ensemble (its members' spread, as ``molgraph predict``;
or MC dropout's, a mean-variance head's),
the conformal ``<target>_lower``/``<target>_upper`` (regression, doubles) or ``<target>_set``
(classification, ``{0}``, ``{1}``, ``{0,1}`` or ``{}``) of a model trained with a calibration
(``molgraph.inference.conformal``; ``model_config["conformal_alpha"]`` changes its alpha),
``train_similarity`` and ``in_domain`` (the applicability domain, ``molgraph.inference.domain``;
the threshold is ``model_config["domain_threshold"]``), then ``valid`` (bool) and ``error``
(empty when valid). Input: a DataFrame with the signature's
string column (``smiles``, or the ``smiles_column`` given when logging), or a list of
``{"smiles": ...}`` records. A loaded model checks its input against the signature first;
called directly, :class:`MolgraphPyfunc` also reads a list of SMILES strings and a frame whose
SMILES column has another usual name (``SMILES``, ``mol``..., matched case-insensitively).

Example::

    import mlflow
    import pandas as pd
    from molgraph.inference.mlflow_model import log_pyfunc_model

    uri = log_pyfunc_model("runs/esol", "sqlite:///runs/mlflow.db", run_id)
    mlflow.set_tracking_uri("sqlite:///runs/mlflow.db")
    model = mlflow.pyfunc.load_model(uri)
    model.predict(pd.DataFrame({"smiles": ["CCO", "not a smiles"]}))
    #   logS_pred train_similarity in_domain  valid                         error  (illustrative)
    # 0     -0.61             0.62      True   True
    # 1      None             None      None  False  invalid SMILES 'not a smiles'

    # served (MLFLOW_TRACKING_URI: the store the model was logged to, an absolute path; -t: a
    # request's time limit, MLflow's default 60 s is too short for 10,000 SMILES of a model
    # with rdkit2d descriptors on a small machine; experiments/RESULTS_serving.md):
    #   MLFLOW_TRACKING_URI=sqlite:////abs/runs/mlflow.db mlflow models serve -m <uri> \\
    #       --env-manager local -h 127.0.0.1 -p 5001 -t 600
    #   curl -X POST 127.0.0.1:5001/invocations -H 'Content-Type: application/json' \\
    #       -d '{"dataframe_split": {"columns": ["smiles"], "data": [["CCO"]]}}'
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

#: Artifact key of the saved model directory.
ARTIFACT = "model"
#: Default name of the SMILES input column (the signature's input).
SMILES = "smiles"
#: Output columns after the per-target predictions.
VALID, ERROR = "valid", "error"
#: SMILES for the logged input example (ethanol, benzene).
EXAMPLE_SMILES = ("CCO", "c1ccccc1")


def prediction_columns(target_names: Sequence[str], spread: bool = False) -> list[str]:
    """The prediction columns, named as in ``molgraph predict``'s output: ``<target>_pred``,
    with ``spread`` (an ensemble, MC dropout, a mean-variance head) each followed by
    ``<target>_std``."""
    suffixes = ("_pred", "_std") if spread else ("_pred",)
    return [f"{name}{suffix}" for name in target_names for suffix in suffixes]




def predict_frame(trained: Any, smiles: Sequence[Any], batch_size: int = 256,
                  domain_threshold: float | None = None,
                  conformal_alpha: float | None = None) -> pd.DataFrame:
    """Predictions of ``trained`` (a ``TrainedModel`` or an ``EnsembleModel``) for each SMILES,
    in input order, as the signature says: ``<target>_pred`` (NaN where invalid; an
    ensemble's ``<target>_std`` after each), the conformal columns (a set is missing where
    invalid), ``train_similarity``, ``in_domain``, ``valid``, ``error``
    (``inference.predict``'s ``predict_table``, without its row and SMILES columns)."""
    from molgraph.chem.table import MoleculeTable
    from molgraph.inference.conformal import SET, conformal_columns
    from molgraph.inference.domain import DEFAULT_THRESHOLD, IN_DOMAIN, SIMILARITY
    from molgraph.inference.predict import predict_table

    smiles = ["" if s is None else str(s) for s in smiles]
    table = MoleculeTable(smiles, np.arange(1, len(smiles) + 1, dtype=np.int64))
    full = predict_table(trained, table, "the request", batch_size,
                         DEFAULT_THRESHOLD if domain_threshold is None else domain_threshold,
                         conformal_alpha)
    conformal = conformal_columns(trained)
    sets = [c for c in conformal if c.endswith(SET)]
    columns = [*prediction_columns(trained.target_names, trained.spread), *conformal,
               SIMILARITY]
    frame = full[[*columns, IN_DOMAIN]].astype({name: np.float64 for name in columns
                                                if name not in sets})
    for name in sets:  # no set for an invalid row: missing, as its other columns
        frame[name] = frame[name].where(frame[name] != "")
    frame[VALID] = (full["error"] == "").to_numpy()
    frame[ERROR] = full["error"]
    return frame


def json_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every missing value as ``None`` (its column then of object dtype; the
    others as they are). MLflow's server writes ``None`` as JSON ``null``, but a float NaN as a
    bare ``NaN``, which is not JSON (``JSON.parse`` and strict parsers reject the answer)."""
    missing = frame.isna()
    return frame.assign(**{column: frame[column].astype(object).where(~missing[column], None)
                           for column in frame.columns[missing.any()]})


def smiles_from_input(model_input: Any, column: str | None = None) -> list[Any]:
    """The SMILES in a pyfunc input: a DataFrame (``column``, else a common SMILES column name
    matched case-insensitively, else its only column), a Series, a list/array of strings, a
    single string, or a ``{"smiles": [...]}`` dict."""
    from molgraph.chem.parse import SMILES_COLUMN_NAMES, find_column

    if isinstance(model_input, str):
        return [model_input]
    if isinstance(model_input, dict):
        model_input = pd.DataFrame(model_input)
    if isinstance(model_input, pd.Series):
        return model_input.tolist()
    if isinstance(model_input, pd.DataFrame):
        columns = [str(c) for c in model_input.columns]
        candidates = ([column] if column else []) + [SMILES, *SMILES_COLUMN_NAMES]
        found = find_column(columns, None, candidates, "SMILES", "input")
        if found is None and len(columns) == 1:
            found = columns[0]
        if found is None:
            raise ValueError(f"the input has no SMILES column (expected {SMILES!r}"
                             f"{f' or {column!r}' if column else ''}); columns are {columns}")
        return model_input[model_input.columns[columns.index(found)]].tolist()
    if isinstance(model_input, np.ndarray):
        return model_input.reshape(-1).tolist()
    if isinstance(model_input, (list, tuple)):
        return [row[0] if isinstance(row, (list, tuple)) and len(row) == 1 else row
                for row in model_input]
    raise TypeError(f"cannot read SMILES from a {type(model_input).__name__}; give a DataFrame "
                    f"with a {SMILES!r} column or a list of SMILES strings")


class MolgraphPyfunc(PythonModel):
    """A molgraph model behind MLflow's ``pyfunc`` interface.

    ``model_config`` (optional, given when logging): ``smiles_column``, ``device`` (``auto``,
    ``cpu``, ``cuda``), ``batch_size``, ``precision`` (``fp32``, ``bf16``),
    ``domain_threshold`` (default ``molgraph.inference.domain.DEFAULT_THRESHOLD``),
    ``conformal_alpha`` (default: the one chosen at training).

    Its answers are :func:`predict_frame` made :func:`json_safe`: missing values are ``None``.
    """

    def __init__(self) -> None:
        self.trained = None
        self.smiles_column: str | None = None
        self.batch_size = 256
        self.domain_threshold: float | None = None
        self.conformal_alpha: float | None = None

    def load_context(self, context) -> None:
        from molgraph.inference.loading import load_model

        config = dict(getattr(context, "model_config", None) or {})
        self.smiles_column = config.get("smiles_column")
        self.batch_size = int(config.get("batch_size", 256))
        self.domain_threshold = config.get("domain_threshold")
        self.conformal_alpha = config.get("conformal_alpha")
        self.trained = load_model(context.artifacts[ARTIFACT],
                                  device=config.get("device", "auto"),
                                  precision=config.get("precision", "fp32"))

    def predict(self, context, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.trained is None:
            self.load_context(context)
        smiles = smiles_from_input(model_input, self.smiles_column)
        return json_safe(predict_frame(self.trained, smiles, self.batch_size,
                                       self.domain_threshold, self.conformal_alpha))


def model_signature(target_names: Sequence[str], smiles_column: str = SMILES,
                    spread: bool = False, conformal: Sequence[str] = ()):
    """Input: one string column ``smiles_column``; output: a double per target (two with
    ``spread``, an ensemble: the prediction and the members' std), the ``conformal`` columns
    (bounds: doubles; sets: strings), the domain's ``train_similarity`` (double) and
    ``in_domain`` (boolean), all null for invalid rows, then ``valid`` (boolean) and ``error``
    (string)."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from molgraph.inference.conformal import SET
    from molgraph.inference.domain import IN_DOMAIN, SIMILARITY

    outputs = [ColSpec("string" if name.endswith(SET) else "double", name, required=False)
               for name in [*prediction_columns(target_names, spread), *conformal, SIMILARITY]]
    return ModelSignature(
        inputs=Schema([ColSpec("string", smiles_column)]),
        outputs=Schema([*outputs, ColSpec("boolean", IN_DOMAIN, required=False),
                        ColSpec("boolean", VALID), ColSpec("string", ERROR)]))


def default_pip_requirements() -> list[str]:
    """Requirements written with the model: this molgraph (its own dependencies follow) and
    this MLflow, pinned, so MLflow never infers them (which would load the model and may try
    the network)."""
    from molgraph import __version__

    return [f"molgraph=={__version__}", f"mlflow=={mlflow.__version__}"]


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI set to ``uri`` for the block (``Model.log`` reads it), then
    put back, and with it ``$MLFLOW_TRACKING_URI``, which ``set_tracking_uri`` also changes."""
    from mlflow.tracking._tracking_service import utils

    previous, environment = getattr(utils, "_tracking_uri", None), os.environ.get(
        "MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if environment is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = environment


#: The logged model's name: not ``model``, which is the run directory's model folder among the
#: run's artifacts (MLflow 3 lists a run's logged models beside its artifacts, by name).
LOGGED_NAME = "pyfunc_model"


def log_pyfunc_model(model_dir: str | Path, tracking_uri: str, run_id: str,
                     name: str = LOGGED_NAME,
                     smiles_column: str | None = None,
                     pip_requirements: Sequence[str] | None = None,
                     model_config: dict[str, Any] | None = None) -> str:
    """Log the saved model in ``model_dir`` (a model directory or a run directory holding
    ``model/``) as a pyfunc model of the existing run ``run_id``; return its model URI
    (``models:/<model id>``), for ``mlflow.pyfunc.load_model`` or ``mlflow models serve``.

    The run is addressed by id, not through the fluent "active run", and its status is left as
    it is (an open run stays open). The signature takes a string column ``smiles_column``
    (default ``smiles``); the input example is two real SMILES.
    """
    from mlflow.models import Model

    from molgraph.inference.conformal import conformal_columns
    from molgraph.inference.loading import load_model
    from molgraph.inference.model_dir import model_root
    # MLflow's bars over the few files it copies back to check the input example are noise
    # in a terminal, a log and a notebook alike
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    directory = model_root(model_dir)
    trained = load_model(directory, device="cpu")  # refuses a damaged or stale model
    column = smiles_column or SMILES
    config = {**(model_config or {}), **({"smiles_column": column} if smiles_column else {})}
    with _tracking_uri(tracking_uri):
        run = mlflow.MlflowClient(tracking_uri).get_run(run_id)
        # Created here, in the run's experiment: left to ``Model.log``, a model of a run that
        # is not the fluent active run lands in the default experiment instead.
        logged = mlflow.initialize_logged_model(
            name=name, source_run_id=run_id, experiment_id=run.info.experiment_id,
            params=dict(run.data.params), tags={"molgraph.task": trained.task})
        # ``mlflow.pyfunc.log_model`` takes no run id (it would use or start an active run);
        # ``Model.log``, which it calls, takes one and links the model to the run.
        info = Model.log(
            artifact_path=None, name=name, flavor=mlflow.pyfunc, run_id=run_id,
            model_id=logged.model_id, flavor_name="pyfunc.ModelFromCode",
            python_model=str(Path(__file__).resolve()),
            artifacts={ARTIFACT: str(directory.resolve())},
            signature=model_signature(trained.target_names, column, trained.spread,
                                      conformal_columns(trained)),
            input_example=pd.DataFrame({column: list(EXAMPLE_SMILES)}),
            pip_requirements=list(pip_requirements or default_pip_requirements()),
            model_config=config or None,
        )
    return info.model_uri


# Models-from-code: when MLflow runs this file to load the model (as a module of another name),
# this is the model it gets; imported as ``molgraph.inference.mlflow_model``, it sets nothing.
if __name__ != "molgraph.inference.mlflow_model":
    mlflow.models.set_model(MolgraphPyfunc())
