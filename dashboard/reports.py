"""What the overview and reports pages show: share links, and the latest graph's reports."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from elicitation.models import Study
from moralgraph.selectors import latest_graph_build

PROLIFIC_PARAMS = {
    "PROLIFIC_PID": "{{%PROLIFIC_PID%}}",
    "STUDY_ID": "{{%STUDY_ID%}}",
    "SESSION_ID": "{{%SESSION_ID%}}",
}


def study_links(request: HttpRequest, study: Study) -> dict[str, str]:
    """The invite link, and the same link as Prolific wants it (its placeholders unescaped)."""
    invite = request.build_absolute_uri(reverse("elicitation:landing", kwargs={"slug": study.slug}))
    query = urlencode(PROLIFIC_PARAMS, safe="{}%")
    return {"invite": invite, "prolific": f"{invite}?{query}"}


def latest_report(study: Study) -> dict[str, Any] | None:
    build = latest_graph_build(study)
    return {"build": build, **report_sections(build.summary)} if build else None


def report_sections(summary: dict[str, Any]) -> dict[str, Any]:
    """A build's summary reshaped for the reports page: gate, contexts, bridging."""
    reliability = summary["reliability"]
    return {
        "counts": summary["counts"],
        "ci_percent": round(100 * summary.get("config", {}).get("ci_level", 0.95)),
        "publishable": reliability["gate"]["publishable"],
        "gate_failures": reliability["gate"]["failures"],
        "reliability": reliability,
        "bridging": summary.get("bridging_groups"),
        "contexts": [
            _context_section(cid, entry)
            for cid, entry in sorted(summary["contexts"].items(), key=lambda kv: _natural(kv[0]))
        ],
    }


def _context_section(context_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    winner = entry["winner"]
    return {
        "id": context_id,
        "name": entry["name"] or context_id,
        "ranking": [
            {"title": _title(row), "score": row["score"], "interval": row["interval"]}
            for row in entry["top"]
        ],
        "edges": entry["edges"],
        "kept_edges": entry["kept_edges"],
        "bridged_edges": entry["bridged_edges"],
        "contested_sets": entry["contested_sets"],
        "winner": _winner_view(winner) if winner else None,
    }


def _winner_view(winner: dict[str, Any]) -> dict[str, Any]:
    bridging = winner.get("bridging")
    return {
        "title": _title(winner),
        "score": winner["score"],
        "prob_top": winner["bt_prob_top"],
        "reasons": winner["reasons"],
        "publishable": not winner["reasons"],
        "bridged": bridging["bridged"] if bridging else None,
        "groups": sorted(bridging["groups"].items()) if bridging else [],
    }


def _title(row: dict[str, Any]) -> str:
    """The value's title when the graph was built, else its id."""
    return row["title"] or str(row["value"])


def _natural(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)
