"""Search spaces refused when read, before any trial: bounds that are not finite, a YAML
mistake as one line with its place, ``when`` on the entry itself, and spaces (or choices) that
can never train; a resumed study whose space changes a searched distribution."""

from __future__ import annotations

import logging

import pytest

from molgraph.sweep.genes import GeneProblem, gene_space_base
from molgraph.sweep.molecules import MoleculeProblem
from molgraph.sweep.space import load_space, space_from_dict
from molgraph.training.api import run_config


def check_feasible(space, problem) -> None:
    from molgraph.sweep.feasible import check_feasible

    check_feasible(space, problem)


def _problem(data_dir, **settings) -> MoleculeProblem:
    return MoleculeProblem(run_config(data_dir / "esol_120.csv", ["logS"], epochs=2,
                                      **settings))


@pytest.mark.parametrize("bound", [".inf", "-.inf", "1e400"])
def test_bounds_that_are_not_finite_are_refused(tmp_path, bound):
    path = tmp_path / "s.yaml"
    path.write_text(f"train.lr: {{type: float, low: 1.0e-4, high: {bound}}}\n")
    with pytest.raises(ValueError, match="high must be a finite number") as err:
        load_space(path)
    assert str(path) in str(err.value)


def test_yaml_mistake_is_one_line_with_its_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train.epochs: 2\nmodel.name: [gcn, gat\n")
    with pytest.raises(ValueError) as err:
        load_space(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid YAML at line 3, column 1: ")
    assert "flow sequence started at line 2, column 13" in message


def test_when_on_the_entry_itself_is_refused_clearly(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("model.name: {type: categorical, choices: [gcn, gat], "
                    "when: {model.name: gat}}\n")
    with pytest.raises(ValueError, match="model.name: when: names the entry itself"):
        load_space(path)


def test_a_space_that_can_never_train_is_refused(data_dir):
    space = space_from_dict({"model.name": ["gat"], "model.hidden_channels": 32,
                             "model.heads": [3]}, "heads.yaml")
    with pytest.raises(ValueError) as err:
        check_feasible(space, _problem(data_dir))
    message = str(err.value)
    assert message.startswith("heads.yaml: no setting of this space can train: ")
    assert "model.heads=3" in message and "divide" in message and "\n" not in message


def test_the_study_refuses_it_before_writing_anything(data_dir, tmp_path):
    from molgraph.sweep.study import run_study

    space = space_from_dict({"model.name": "gat", "model.hidden_channels": 32,
                             "model.heads": 3})
    with pytest.raises(ValueError, match="no setting of this space can train"):
        run_study(_problem(data_dir), tmp_path / "sweep", space, trials=2)
    assert not (tmp_path / "sweep").exists()


def test_a_choice_that_never_trains_is_refused_with_a_fixed_flag(data_dir):
    # the flag fixes the width: heads 3 never divides 32, heads 4 does
    space = space_from_dict({"model.name": ["gat", "gcn"],
                             "model.heads": {"type": "categorical", "choices": [3, 4],
                                             "when": {"model.name": "gat"}}}, "s.yaml")
    problem = _problem(data_dir, model_options={"hidden_channels": 32})
    with pytest.raises(ValueError, match=r"s.yaml: model.heads: 3 never trains"):
        check_feasible(space, problem)


def test_a_range_some_of_whose_values_train_is_accepted(data_dir, caplog):
    # 48 divides by 3 while 32 and 64 do not: the whole range is tried, not only its ends
    space = space_from_dict({"model.name": "gat", "model.heads": [3],
                             "model.hidden_channels": {"type": "int", "low": 32, "high": 64,
                                                       "step": 16}}, "s.yaml")
    with caplog.at_level(logging.WARNING, logger="molgraph.sweep.feasible"):
        check_feasible(space, _problem(data_dir))
    assert "some settings of s.yaml are refused" in caplog.text
    assert "model.hidden_channels=32" in caplog.text


def test_the_default_spaces_are_feasible(data_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="molgraph.sweep.feasible"):
        problem = _problem(data_dir)
        check_feasible(problem.space(), problem)
        genes = GeneProblem(gene_space_base())
        check_feasible(genes.space(), genes)
    assert caplog.text == ""


def test_a_gene_space_with_gat_heads_not_dividing_the_width_is_refused():
    genes = GeneProblem(gene_space_base())
    space = space_from_dict({"model.name": ["gat"], "model.hidden_channels": [30],
                             "model.heads": [4]}, "g.yaml", gene_space_base())
    with pytest.raises(ValueError, match="g.yaml: no setting of this space can train"):
        check_feasible(space, genes)
