"""Progress: a bar by default from Python, nothing with progress=False, lines to a callable
that count to the run's whole budget and carry the objective's unit."""

from __future__ import annotations

import re

import pytest
from explore_helpers import TINY_NET, small_space

import jaxdse
from jaxdse.codesign import ExploreError
from jaxdse.progress import ProgressBar


def test_explore_shows_a_bar_by_default_and_nothing_when_off(capsys):
    jaxdse.explore(TINY_NET, space=small_space(), method="random", budget=2, seed=0, mapper_budget=300)
    err = capsys.readouterr().err
    assert "random explorer" in err and "2/2" in err and " ms" in err
    jaxdse.explore(TINY_NET, space=small_space(), method="random", budget=2, seed=0, mapper_budget=300, progress=False)
    assert capsys.readouterr().err == ""


def test_map_network_shows_a_bar_by_default(capsys):
    jaxdse.map_network(TINY_NET, "tiny", method="random", budget=50)
    assert "mapping tiny_cnn" in capsys.readouterr().err
    jaxdse.map_network(TINY_NET, "tiny", method="random", budget=50, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_lines_count_to_the_whole_budget_with_units():
    """The warm start (the gradient explorer given 3 of 7 designs) counts to 7 too."""
    lines: list[str] = []
    r = jaxdse.explore(TINY_NET, space=small_space(), budget=7, warm_start=3, seed=0, mapper_budget=300,
                       progress=lines.append)  # fmt: skip
    counted = [re.match(r"\[(\d+)/(\d+)\]", x) for x in lines]
    assert counted and all(counted)
    assert {int(m.group(2)) for m in counted} == {7}
    assert [int(m.group(1)) for m in counted] == sorted(int(m.group(1)) for m in counted)
    assert int(counted[-1].group(1)) == r.evaluations
    assert all(re.search(r"latency [\d.e+-]+ ms, (feasible|infeasible)", x) for x in lines), lines


def test_bar_follows_the_counts_in_lines():
    bar = ProgressBar("test", "design")
    bar("[3/9] step -> latency 1 ms, feasible")
    assert (bar.bar.n, bar.bar.total) == (3, 9)
    bar("gradient mapper: round 2/4, 1/1 layers legal")
    assert (bar.bar.n, bar.bar.total) == (2, 4)
    bar.close()


def test_bad_progress_is_named():
    with pytest.raises(ExploreError, match="progress"):
        jaxdse.explore(TINY_NET, budget=2, progress="yes")


def test_one_objective_definition_everywhere():
    """The mapper's exact score, the relaxed losses and the CLI's choices all come from one place."""
    import jax.numpy as jnp
    import numpy as np

    from jaxdse.cli import build_parser
    from jaxdse.mapper.space import OBJECTIVES, log_objective, objective_of

    lat, en = jnp.asarray([2.0, 3.0]), jnp.asarray([5.0, 7.0])
    assert np.allclose(objective_of("edp", lat, en), [10.0, 21.0])
    for o in OBJECTIVES:
        assert np.allclose(log_objective(o, lat, en), np.log(objective_of(o, lat, en)))
    explore_cmd = build_parser()._subparsers._group_actions[0].choices["explore"]
    choices = next(a.choices for a in explore_cmd._actions if a.dest == "objective")
    assert list(choices) == list(OBJECTIVES)
