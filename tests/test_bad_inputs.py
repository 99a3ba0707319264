"""Bad input, verb by verb: a clear message naming the file (and row or line) and what to do, a
non-zero exit, no traceback, and no output written. A new verb adds its rows to CASES."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from screen_helpers import tiny_models

from molgraph.cli.main import main

DATA = Path(__file__).parent / "data"
ESOL = DATA / "esol_120.csv"
BACE = DATA / "bace_80.csv"
CHEMBL = DATA / "esol_30_chembl.csv"


def write(name: str, text: str | bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
        return path
    return make


def truncated_gz(tmp: Path) -> Path:
    path = tmp / "cut.csv.gz"
    path.write_bytes(gzip.compress(ESOL.read_bytes())[:400])
    return path


BINARY = bytes(range(256)) * 8


def bace_labels(change: Callable[[list[str]], list[str]]) -> Callable[[Path], Path]:
    """BACE's 80 rows with the ``Class`` cells rewritten by ``change``."""
    def make(tmp: Path) -> Path:
        header, *rows = BACE.read_text().splitlines()
        column = header.split(",").index("Class")
        cells = [r.split(",") for r in rows]
        for cell, new in zip(cells, change([c[column] for c in cells])):
            cell[column] = new
        return write("labels.csv", "\n".join([header, *map(",".join, cells)]) + "\n")(tmp)
    return make


def bace_split(train: str, val: str) -> Callable[[Path], Path]:
    """A split file of BACE's rows: ``train`` and ``val`` from ``ones``/``mixed`` (the rest
    is test), so that one part holds only the label 1."""
    classes = [line.split(",")[BACE.read_text().split("\n")[0].split(",").index("Class")]
               for line in BACE.read_text().splitlines()[1:]]
    ones = [i for i, c in enumerate(classes) if c == "1"]
    zeros = [i for i, c in enumerate(classes) if c == "0"]
    parts = {"ones": ones[:20], "mixed": ones[20:26] + zeros[:6]}
    used = set(parts[train] + parts[val])
    rest = [i for i in range(len(classes)) if i not in used]
    return write("split.json", json.dumps({"train": parts[train], "val": parts[val],
                                            "test": rest}))


def model_with(change: Callable[[Path], None]) -> Callable[[Path, Path], Path]:
    """A copy of the tiny model with one file damaged by ``change``."""
    def make(tmp: Path, model: Path) -> Path:
        copy = tmp / "model"
        shutil.copytree(model, copy)
        change(copy)
        return copy
    return make


def _other_weights(copy: Path) -> None:
    import torch

    state = torch.load(copy / "weights.pt", weights_only=True)
    state["head.0.weight"] = torch.zeros(3, 3)
    torch.save(state, copy / "weights.pt")


TRAIN = ["train", "--target-columns", "logS", "--epochs", "1", "--hidden", "8", "--no-cache"]
CLASSIFY = ["train", "--target-columns", "Class", "--task", "classification", "--epochs", "1",
            "--hidden", "8", "--no-cache", "--split", "random"]
# (case, arguments before --out given a temporary folder, words the message must contain)
CASES: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    ("train header only", lambda t: TRAIN + ["--data", str(write("h.csv", "smiles,logS\n")(t))],
     ["h.csv", "no valid molecules"]),
    ("train empty target", lambda t: TRAIN + ["--data", str(write(
        "e.csv", "smiles,logS\nCCO,\nCCC,\nCCCC,\n")(t))], ["e.csv", "'logS'", "no labels"]),
    ("train empty file", lambda t: TRAIN + ["--data", str(write("z.csv", "")(t))],
     ["z.csv", "empty"]),
    ("train truncated gz", lambda t: TRAIN + ["--data", str(truncated_gz(t))],
     ["cut.csv.gz", "damaged or cut short"]),
    ("train binary csv", lambda t: TRAIN + ["--data", str(write("b.csv", BINARY)(t))],
     ["b.csv", "is a binary file"]),
    ("train wrong delimiter", lambda t: TRAIN + ["--data", str(CHEMBL), "--delimiter", ","],
     ["esol_30_chembl.csv", "one column", "semicolon-separated", "--delimiter ';'"]),
    ("train delimiter of two characters", lambda t: TRAIN + ["--data", str(ESOL),
                                                             "--delimiter", ";;"],
     ["one character", "';;'"]),
    ("train infinite label", lambda t: TRAIN + ["--data", str(write(
        "i.csv", "smiles,logS\nCCO,1\nCCC,inf\nCCN,2\n")(t))], ["i.csv", "row 2", "inf"]),
    ("train classes 0/1/2", lambda t: CLASSIFY + ["--data", str(bace_labels(
        lambda c: [str(i % 3) for i in range(len(c))])(t))],
     ["labels.csv", "row 3", "'Class'", "holds 2", "3 classes", "--task regression"]),
    ("train labels -1/1", lambda t: CLASSIFY + ["--data", str(bace_labels(
        lambda c: ["-1" if v == "0" else v for v in c])(t))],
     ["labels.csv", "'Class' holds -1", "write -1 as 0"]),
    ("train continuous labels", lambda t: [*CLASSIFY[:2], "logS", *CLASSIFY[3:], "--data",
                                           str(ESOL)],
     ["esol_120.csv", "row 1", "'logS' holds -0.77", "continuous", "--task regression"]),
    ("train one class", lambda t: CLASSIFY + ["--data", str(bace_labels(
        lambda c: ["1"] * len(c))(t))], ["labels.csv", "only the label 1", "both 0 and 1"]),
    ("train one class in validation", lambda t: CLASSIFY + ["--data", str(BACE),
                                                            "--split-file",
                                                            str(bace_split("mixed", "ones")(t))],
     ["bace_80.csv", "validation part (20 molecules", "only the label 1", "--seed",
      "--split stratified"]),
    ("train one class in training", lambda t: CLASSIFY + ["--data", str(BACE), "--split-file",
                                                          str(bace_split("ones", "mixed")(t))],
     ["bace_80.csv", "training part (20 molecules", "only the label 1", "--seed"]),
    ("train one row", lambda t: TRAIN + ["--data", str(write("o.csv", "smiles,logS\nCCO,1\n")(t))],
     ["o.csv", "split is empty", "--split-sizes"]),
    ("train target twice", lambda t: [*TRAIN[:2], "logS", "logS", *TRAIN[3:], "--data",
                                      str(ESOL)], ["'logS' is named twice"]),
    ("train zero epochs", lambda t: [*TRAIN, "--data", str(ESOL), "--epochs", "0"],
     ["epochs must be at least 1"]),
    ("train missing file", lambda t: TRAIN + ["--data", str(t / "nope.csv")],
     ["nope.csv", "no such file"]),
    ("train text label", lambda t: TRAIN + ["--data", str(write(
        "x.csv", "smiles,logS\nCCO,1\nCCC,high\n")(t))], ["x.csv", "row 2", "'high'"]),
    ("train bad config", lambda t: ["train", "--config", str(write("r.json", "{")(t))],
     ["r.json", "run configuration"]),
    ("train unwritable out", lambda t: TRAIN + ["--data", str(ESOL), "--out",
                                                str(write("f", "x")(t) / "run")],
     ["is a file"]),
    ("train split column typo", lambda t: TRAIN + ["--data", str(write(
        "s.csv", "smiles,logS,split\nCCO,1,train\nCCC,2,tset\nCCN,3,test\n")(t)),
        "--split-column", "split"], ["s.csv", "row 2", "'tset'", "train, val or test"]),
    ("train split column missing", lambda t: TRAIN + ["--data", str(ESOL), "--split-column",
                                                      "fold"], ["esol_120.csv", "'fold'"]),
    ("train split file out of range", lambda t: TRAIN + ["--data", str(ESOL), "--split-file",
        str(write("sp.json", '{"train": [0, 1, 2], "test": [3, 500]}')(t))],
     ["sp.json", "500", "0-based"]),
    ("train split file twice", lambda t: TRAIN + ["--data", str(ESOL), "--split-file",
        str(write("sp.json", '[{"train": "0-20", "val": [5], "test": [30]}]')(t))],
     ["sp.json", "index 5", "twice"]),
    ("train split file reversed range", lambda t: TRAIN + ["--data", str(ESOL), "--split-file",
        str(write("sp.json", '{"train": "0-89", "val": "104-90", "test": "105-119"}')(t))],
     ["sp.json", "'val'", "'104-90' runs backwards", "90-104"]),
    ("train split file unknown key", lambda t: TRAIN + ["--data", str(ESOL), "--split-file",
        str(write("sp.json", '{"train": "0-89", "holdout": "90-104", "test": "105-119"}')(t))],
     ["sp.json", "'holdout' is not a part", "valid"]),
    ("train split column and file", lambda t: TRAIN + ["--data", str(ESOL), "--split-column",
        "split", "--split-file", "x.json"], ["--split-column or --split-file"]),
    ("predict batch 0", lambda t: ["predict", "--data", str(ESOL), "--batch-size", "0"],
     ["--batch-size", "at least 1"]),
    ("predict binary smi", lambda t: ["predict", "--data", str(write("b.smi", BINARY)(t))],
     ["b.smi", "is a binary file"]),
    ("screen batch 0", lambda t: ["screen", "--library", str(ESOL), "--batch-size", "0"],
     ["--batch-size must be at least 1"]),
    ("screen workers -2", lambda t: ["screen", "--library", str(ESOL), "--workers", "-2"],
     ["--workers"]),
    ("screen threshold nan", lambda t: ["screen", "--library", str(ESOL), "--threshold", "nan"],
     ["--threshold must be a finite number, not nan"]),
    ("screen threshold inf", lambda t: ["screen", "--library", str(ESOL), "--threshold=-inf"],
     ["--threshold must be a finite number, not -inf"]),
    ("screen missing library", lambda t: ["screen", "--library", str(t / "no.smi")],
     ["no.smi"]),
    ("screen truncated gz", lambda t: ["screen", "--library", str(truncated_gz(t))],
     ["cut.csv.gz", "damaged or cut short"]),
    ("featurize truncated gz", lambda t: ["featurize", "--library", str(truncated_gz(t))],
     ["cut.csv.gz", "damaged or cut short"]),
]
MODEL_CASES = [  # predict with a damaged model directory
    ("empty weights", model_with(lambda m: (m / "weights.pt").write_bytes(b"")),
     ["weights.pt", "not readable"]),
    ("truncated weights", model_with(
        lambda m: (m / "weights.pt").write_bytes((m / "weights.pt").read_bytes()[:300])),
     ["weights.pt", "not readable"]),
    ("weights of another model", model_with(_other_weights), ["weights.pt", "do not fit"]),
    ("corrupt config", model_with(lambda m: (m / "config.json").write_text('{"mod')),
     ["config.json", "cannot be read"]),
    ("not a model", lambda t, m: t, ["not a molgraph model directory"]),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_models(tmp_path_factory.getbasetemp())[0]


def _run(argv: list[str], out: Path, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not out.exists() or (out.is_dir() and not (out / "metrics.json").exists())
    return " ".join(err.split())


@pytest.mark.parametrize("case, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_and_nothing_is_written(case, argv, words, tmp_path, model, capsys):
    args = argv(tmp_path)
    out = tmp_path / ("out.csv" if args[0] in ("predict", "screen") else "out")
    if args[0] in ("predict", "screen") and "--model" not in args:
        args += ["--model", str(model)]
    if "--out" not in args:
        args += ["--out", str(out)]
    message = _run(args, out, capsys)
    assert all(w in message for w in words), message


@pytest.mark.parametrize("case, make, words", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_damaged_model_is_named(case, make, words, tmp_path, model, capsys):
    out = tmp_path / "p.csv"
    message = _run(["predict", "--model", str(make(tmp_path, model)), "--data", str(ESOL),
                    "--out", str(out)], out, capsys)
    assert all(w in message for w in words), message


@pytest.mark.parametrize("verb", [["train"], ["screen"], ["genes", "train"], ["predict"]])
def test_unknown_flag_prints_the_verbs_usage(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*verb, "--no-such-flag", "1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: molgraph {' '.join(verb)}" in err and "Traceback" not in err


def test_gene_label_typo_names_the_line(tmp_path, capsys):
    genes = DATA / "genes"
    lines = (genes / "labels.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",maybe"
    labels = write("labels.csv", "\n".join(lines) + "\n")(tmp_path)
    out = tmp_path / "genes"
    message = _run(["genes", "train", "--network", str(genes / "network.tsv"), "--format",
                    "edgelist", "--labels", str(labels), "--out", str(out)], out, capsys)
    assert "labels.csv, line 3" in message and "'maybe'" in message and "--task" in message


@pytest.mark.parametrize("case, network, labels, words", [
    ("empty network", write("empty.tsv", ""), lambda t: DATA / "genes" / "labels.csv",
     ["empty.tsv", "the network has no genes"]),
    ("labels of one class", lambda t: DATA / "genes" / "network.tsv", write(
        "drivers.csv", (DATA / "genes" / "labels.csv").read_text().replace(",0\n", ",1\n")),
     ["drivers.csv: 24 of 25 gene ids in the network", "has only the label 1", "other class"]),
])
def test_gene_labels_that_cannot_be_learned_are_refused(case, network, labels, words, tmp_path,
                                                        capsys):
    out = tmp_path / "genes"
    message = _run(["genes", "train", "--network", str(network(tmp_path)), "--format",
                    "edgelist", "--labels", str(labels(tmp_path)), "--out", str(out)], out,
                   capsys)
    assert all(w in message for w in words), message
