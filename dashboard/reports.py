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
TOP_VALUES = 5


def study_links(request: HttpRequest, study: Study) -> dict[str, str]:
    """The invite link, and the same link as Prolific wants it (its placeholders unescaped)."""
    invite = request.build_absolute_uri(reverse("elicitation:landing", kwargs={"slug": study.slug}))
    query = urlencode(PROLIFIC_PARAMS, safe="{}%")
    return {"invite": invite, "prolific": f"{invite}?{query}"}


def latest_report(study: Study) -> dict[str, Any] | None:
    build = latest_graph_build(study)
    return {"build": build, **report_sections(build.result)} if build else None


def report_sections(result: dict[str, Any]) -> dict[str, Any]:
    """The aggregation result reshaped for the reports page: gate, contexts, bridging."""
    labels = result.get("labels", {})
    values = {str(k): v for k, v in labels.get("values", {}).items()}
    contexts = {str(k): v for k, v in labels.get("contexts", {}).items()}
    reliability = result["reliability"]
    return {
        "counts": result["counts"],
        "ci_percent": round(100 * result.get("config", {}).get("ci_level", 0.95)),
        "publishable": reliability["gate"]["publishable"],
        "gate_failures": reliability["gate"]["failures"],
        "reliability": reliability,
        "bridging": result.get("bridging_groups"),
        "contexts": [
            _context_section(cid, contexts.get(cid, cid), section, values)
            for cid, section in sorted(result["contexts"].items(), key=lambda kv: _natural(kv[0]))
        ],
    }


def _context_section(
    context_id: str, name: str, section: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    intervals = {str(row["value"]): row for row in section.get("bradley_terry", [])}
    ranking = [
        {
            "title": values.get(str(row["value"]), str(row["value"])),
            "score": row["score"],
            "interval": intervals.get(str(row["value"])),
        }
        for row in section["ranking"][:TOP_VALUES]
    ]
    winner = section.get("winner")
    return {
        "id": context_id,
        "name": name,
        "ranking": ranking,
        "edges": len(section["edges"]),
        "kept_edges": sum(1 for edge in section["edges"] if edge["kept"]),
        "bridged_edges": sum(1 for e in section["edges"] if e.get("bridging", {}).get("bridged")),
        "contested_sets": len(section.get("contested_sets", [])),
        "winner": _winner_view(winner, values) if winner else None,
    }


def _winner_view(winner: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    bridging = winner.get("bridging")
    return {
        "title": values.get(str(winner["value"]), str(winner["value"])),
        "score": winner["score"],
        "prob_top": winner["bt_prob_top"],
        "reasons": winner["reasons"],
        "publishable": not winner["reasons"],
        "bridged": bridging["bridged"] if bridging else None,
        "groups": sorted(bridging["groups"].items()) if bridging else [],
    }


def _natural(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)
