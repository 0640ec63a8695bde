"""Comparing two builds of a study: values, edges, winners and the gate."""

from moralgraph.core.compare import compare_builds, compare_context, compare_gate


def edge(source, wiser, kept=True):
    return {"sourceValueId": source, "wiserValueId": wiser, "kept": kept}


def section(edges, winner=None, ranking=()):
    return {
        "edges": edges,
        "ranking": [{"value": v} for v in ranking],
        "winner": {"value": winner} if winner is not None else None,
    }


def summary(publishable, *failures):
    return {"reliability": {"gate": {"publishable": publishable, "failures": list(failures)}}}


def test_an_edge_kept_the_other_way_round_is_a_flip_not_a_loss_and_a_gain():
    earlier = section([edge(1, 2), edge(2, 3)], winner=3)
    later = section([edge(2, 1), edge(2, 3, kept=False), edge(3, 4)], winner=4)

    change = compare_context(earlier, later)

    assert change["edges_flipped"] == [["1", "2"]]
    assert change["edges_lost_support"] == [["2", "3"]]
    assert change["edges_appeared"] == [["3", "4"]]
    assert change["values_added"] == ["4"]
    assert change["winner"] == {"before": "3", "after": "4"} and change["winner_changed"]


def test_a_context_new_in_the_later_build_adds_all_it_names():
    change = compare_context(None, section([edge(5, 6)], winner=6, ranking=[6, 5]))

    assert change["values_added"] == ["5", "6"] and change["edges_appeared"] == [["5", "6"]]
    assert change["winner"] == {"before": None, "after": "6"}


def test_the_same_build_twice_changes_nothing():
    built = (
        summary(False, "median votes per edge 4.0 < 5.0"),
        {"context:7": section([edge(1, 2)], 2)},
    )

    change = compare_builds(built, built)

    assert change["totals"] == {
        "values_added": 0,
        "edges_appeared": 0,
        "edges_flipped": 0,
        "edges_lost_support": 0,
        "winners_changed": 0,
    }
    assert change["gate"]["failures_gained"] == change["gate"]["failures_lost"] == []


def test_the_gate_says_which_failures_came_and_went():
    gate = compare_gate(summary(False, "kappa low", "few votes"), summary(True))

    assert gate["publishable"] == {"before": False, "after": True}
    assert gate["failures_lost"] == ["few votes", "kappa low"] and gate["failures_gained"] == []


def test_a_check_that_failed_in_both_builds_is_not_gained_or_lost_though_its_figure_moved():
    def failing(*pairs):
        gate = {
            "publishable": False,
            "failures": [f for f, _ in pairs],
            "checks": [c for _, c in pairs],
        }
        return {"reliability": {"gate": gate}}

    earlier = failing(("split-half kappa 0.100 < 0.4", "split-half kappa < 0.4"))
    later = failing(
        ("split-half kappa 0.200 < 0.4", "split-half kappa < 0.4"),
        ("median votes per edge 2.0 < 5.0", "median votes per edge < 5.0"),
    )

    gate = compare_gate(earlier, later)

    assert gate["failures_gained"] == ["median votes per edge 2.0 < 5.0"]
    assert gate["failures_lost"] == []
