"""What the overview and reports pages show: share links, and the latest graph's reports."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import salted_hmac

from elicitation.models import Study
from moralgraph.core import FLAG_REASONS, FLAGS
from moralgraph.models import GraphBuild
from moralgraph.selectors import latest_graph_build, value_titles

RATER_ID_SALT = "dashboard.reports.rater"

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
    if build is None:
        return None
    return {"build": build, **report_sections(build.summary, _without_flagged_titles(build))}


def _without_flagged_titles(build: GraphBuild) -> dict[str, str]:
    """Titles of the would-be winners without flagged raters (the summary holds only ids)."""
    winners = (build.summary.get("rater_quality") or {}).get("winners_without_flagged") or {}
    return value_titles(build.study_id, [value for value in winners.values() if value is not None])


def report_sections(
    summary: dict[str, Any], titles: dict[str, str] | None = None
) -> dict[str, Any]:
    """A build's summary reshaped for the reports page: gate, contexts, bridging."""
    reliability = summary["reliability"]
    quality = summary.get("rater_quality")
    return {
        "counts": summary["counts"],
        "ci_percent": round(100 * summary.get("config", {}).get("ci_level", 0.95)),
        "publishable": reliability["gate"]["publishable"],
        "gate_failures": reliability["gate"]["failures"],
        "reliability": reliability,
        "bridging": summary.get("bridging_groups"),
        "contexts": [
            _context_section(cid, entry, quality, titles or {})
            for cid, entry in sorted(summary["contexts"].items(), key=lambda kv: _natural(kv[0]))
        ],
        "quality": _quality_view(quality) if quality else None,
    }


def short_rater_id(rater_id: str) -> str:
    """A keyed, short stand-in for a participant id: stable, not guessable from the id."""
    return salted_hmac(RATER_ID_SALT, rater_id).hexdigest()[:10]


def _quality_view(quality: dict[str, Any]) -> dict[str, Any]:
    """Flagged raters by short keyed id, counts per flag, and the client groups among them."""
    clients = quality.get("clients") or {}
    raters = [
        {
            "id": short_rater_id(rater),
            "flags": row["flags"],
            "reasons": [FLAG_REASONS[f] for f in row["flags"] if f in FLAG_REASONS],
            "votes": row["votes"],
            "client": clients.get(rater, ""),
        }
        for rater, row in quality["raters"].items()
    ]
    raters.sort(key=lambda r: (-r["votes"], r["id"]))
    return {
        "raters": raters,
        "flagged_votes": quality["flagged_votes"],
        "flagged_share": quality["flagged_share"],
        "by_flag": [(flag, FLAG_REASONS[flag], quality["by_flag"][flag]) for flag in FLAGS],
        "client_groups": _client_groups(raters),
        "excluded": quality.get("excluded") or {},
    }


def _client_groups(raters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flagged raters grouped by the client they came from, biggest group first."""
    groups: dict[str, dict[str, Any]] = {}
    for rater in raters:
        if rater["client"]:
            group = groups.setdefault(rater["client"], {"raters": 0, "votes": 0})
            group["raters"] += 1
            group["votes"] += rater["votes"]
    rows = [{"client": c, "short": c[:10], **g} for c, g in groups.items()]
    return sorted(rows, key=lambda g: (-g["raters"], g["client"]))


def _context_section(
    context_id: str, entry: dict[str, Any], quality: dict[str, Any] | None, titles: dict[str, str]
) -> dict[str, Any]:
    winner = entry["winner"]
    return {
        "without_flagged": _without_flagged(context_id, entry, quality, titles),
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


def _without_flagged(
    context_id: str, entry: dict[str, Any], quality: dict[str, Any] | None, titles: dict[str, str]
) -> dict[str, Any] | None:
    """The context's top value were flagged raters left out: its id, and whether it differs."""
    if not quality or not quality["raters"]:
        return None
    value = (quality.get("winners_without_flagged") or {}).get(context_id)
    winner = entry["winner"]
    changed = value != (winner["value"] if winner else None)
    return {"value": value, "title": titles.get(str(value)), "changed": changed}


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
