"""A model card as Markdown (CommonMark with GitHub's tables), written by hand from its structure.

What people wrote (intended use, limitations, descriptions) is kept as the Markdown they wrote;
every other value from the graph is escaped, so a dataset named `*x*` or `a|b` reads as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from maestro_graph.domain.model_card import (
    CardField, DatasetRef, MetricChange, ModelCard, Owner, PersonRef, TrainingDataset, VersionEntry, WrittenText,
)

FIELD_TITLES = {
    CardField.DESCRIPTION: "Description",
    CardField.INTENDED_USE: "Intended use",
    CardField.LIMITATIONS: "Limitations",
    CardField.TRAINING_JOB: "Training job",
    CardField.TRAINING_DATA: "Training data",
    CardField.FEATURES: "Features",
    CardField.METRICS: "Evaluation metrics",
    CardField.OWNER: "Owner",
    CardField.DEPLOYMENTS: "Deployments",
}
NOT_WRITTEN = "_Not written yet._"
# What could start markup in the middle of a line (a value never starts one: it follows a label).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def esc(value: object) -> str:
    """A value from the graph as literal Markdown text, on one line.

    >>> esc("a|b *c*\\nd")
    'a\\\\|b \\\\*c\\\\* d'
    """
    text = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", text)


def code(value: object) -> str:
    """A value as an inline code span (identifiers: namespaces, ids, URIs).

    >>> code("a`b")
    '`` a`b ``'
    """
    text = " ".join(str(value).split()).replace("|", "\\|")  # \\| keeps a table cell whole
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


def when(stamp: str | None) -> str:
    """A stored time as people read it, to the minute, in UTC.

    >>> when("2026-12-07T17:11:32.820265Z"), when("not a time")
    ('2026-12-07 17:11 UTC', 'not a time')
    """
    if not stamp:
        return ""
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return esc(stamp)
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def number(value: float | None) -> str:
    """
    >>> number(0.8512345), number(1200.0), number(None)
    ('0.8512', '1200', '–')
    """
    if value is None:
        return "–"
    return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"


def signed(value: float) -> str:
    """
    >>> signed(0.05), signed(-0.3)
    ('+0.05', '−0.3')
    """
    return ("+" if value >= 0 else "−") + number(abs(value))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines


def dataset(d: DatasetRef) -> str:
    return f"**{esc(d.name)}** ({code(d.namespace)})"


def person(p: PersonRef) -> str:
    return f"{esc(p.name)} ({esc(p.email)})" if p.email else esc(p.name)


def written(text: WrittenText) -> list[str]:
    if text.text is None:
        return [NOT_WRITTEN]
    lines = text.text.splitlines()
    if text.source == "model":
        lines += ["", "_As written for the model; this version has none of its own._"]
    return lines


def owner(o: Owner) -> str:
    if o.project is None:
        return f"{person(o.person)}, owner"
    return f"{person(o.person)}, {esc(o.person.role or 'member')} of project {esc(o.project.name)}"


def training_dataset(t: TrainingDataset) -> list[str]:
    lines = [f"### {esc(t.dataset.name)}", "", f"Namespace {code(t.dataset.namespace)}.", ""]
    if t.description:
        lines += [*t.description.splitlines(), ""]
    if t.upstream:
        lines += ["Upstream lineage:", ""]
        for u in t.upstream:
            via = f", by job {code(u.job)}" if u.job else ""
            lines.append(f"- {dataset(u.dataset)}: {u.distance} {'hop' if u.distance == 1 else 'hops'} up{via}")
        lines.append("")
    else:
        lines += ["Upstream lineage: none recorded.", ""]
    if t.owners:
        lines += ["Owners:", "", *(f"- {owner(o)}" for o in t.owners), ""]
    else:
        lines += ["Owners: none recorded.", ""]
    return lines


def change(m: MetricChange) -> str:
    if m.before is None:
        return f"{esc(m.name)} {number(m.after)} (new)"
    if m.after is None:
        return f"{esc(m.name)} dropped (was {number(m.before)})"
    assert m.delta is not None
    return f"{esc(m.name)} {number(m.before)} → {number(m.after)} ({signed(m.delta)})"


def changes(v: VersionEntry, first: bool) -> str:
    if first:
        return "first version"
    parts = [change(m) for m in v.metrics]
    parts += [f"feature added: {esc(f)}" for f in v.features_added]
    parts += [f"feature removed: {esc(f)}" for f in v.features_removed]
    parts += [f"training data added: {esc(d)}" for d in v.datasets_added]
    parts += [f"training data removed: {esc(d)}" for d in v.datasets_removed]
    return "; ".join(parts) or "no change in metrics, features or training data"


def to_markdown(card: ModelCard) -> str:
    d, c = card.details, card.completeness
    out = [f"# Model card: {esc(d.model_name)} {esc(d.version)}", ""]
    missing = ", ".join(FIELD_TITLES[f].lower() for f in c.missing) or "nothing"
    out += [f"> Completeness **{len(c.filled)}/{len(c.filled) + len(c.missing)}** ({round(c.score * 100)}%). "
            f"Missing: {missing}.", ">", f"> Generated from the graph at {when(card.generated_at)}.", ""]

    out += ["## Model details", ""]
    rows = [("Model", esc(d.model_name)), ("Version", esc(d.version)), ("Stage", esc(d.stage))]
    if d.aliases:
        rows.append(("Aliases", ", ".join(code(a) for a in d.aliases)))
    if d.framework:
        rows.append(("Framework", esc(d.framework)))
    rows.append(("Created", when(d.created_at) + (f" by {esc(d.created_by)}" if d.created_by else "")))
    if d.training_job:
        j = d.training_job
        job = f"{esc(j.name)} ({esc(j.status)})"
        if j.submitted_by:
            job += f", submitted by {esc(j.submitted_by)}"
        if j.finished_at:
            job += f", finished {when(j.finished_at)}"
        if j.mlflow_run_id:
            job += f", MLflow run {code(j.mlflow_run_id)}"
        rows.append(("Training job", job))
    else:
        rows.append(("Training job", "none recorded"))
    if d.tags:
        rows.append(("Tags", ", ".join(code(t) for t in d.tags)))
    if d.mlflow_run_id:
        rows.append(("MLflow run", code(d.mlflow_run_id)))
    if d.mlflow_model_uri:
        rows.append(("MLflow model", code(d.mlflow_model_uri)))
    out += table(("Field", "Value"), rows) + [""]
    out += [*(d.description.splitlines() if d.description else ["_No description yet._"]), ""]

    out += ["## Intended use", "", *written(card.intended_use), ""]
    out += ["## Limitations", "", *written(card.limitations), ""]

    out += ["## Training data", ""]
    if card.training_data:
        for t in card.training_data:
            out += training_dataset(t)
        if card.lineage_truncated:
            out += ["_Upstream lineage is cut short: it reaches further than a card shows._", ""]
    else:
        out += ["_No training datasets linked (TRAINED_ON)._", ""]

    out += ["## Features used", ""]
    if card.features:
        out += table(("Feature", "Type", "Dataset"), ((code(f.path), esc(f.type or ""), esc(f.dataset.name) if f.dataset else "")
                                                      for f in card.features)) + [""]
    else:
        out += ["_No features linked (USES_FEATURE)._", ""]

    out += ["## Evaluation metrics", ""]
    out += (table(("Metric", "Value"), ((esc(m.name), number(m.value)) for m in card.metrics)) if card.metrics
            else ["_No metrics recorded._"]) + [""]

    if card.parameters:
        out += ["## Parameters", ""]
        out += table(("Parameter", "Value"), ((esc(p.name), code(p.value)) for p in card.parameters)) + [""]

    out += ["## Deployments", ""]
    if card.deployments:
        out += table(("Deployment", "Environment", "Status", "Replicas", "Endpoint"),
                     ((esc(x.name), esc(x.environment), esc(x.status), str(x.replicas), code(x.endpoint) if x.endpoint else "")
                      for x in card.deployments)) + [""]
    else:
        out += ["_Not deployed: no deployment serves this version._", ""]

    o = card.ownership
    out += ["## Owning project and team", ""]
    if o.projects or o.owners:
        if o.projects:
            out.append("- Projects: " + ", ".join(esc(p.name) + (f" ({esc(p.status)})" if p.status else "") for p in o.projects))
        if o.owners:
            out.append("- Owners: " + ", ".join(person(p) for p in o.owners))
        if o.members:
            out.append("- Members: " + ", ".join(f"{person(p)}, {esc(p.role or 'member')}" for p in o.members))
        if o.teams:
            out.append("- Teams: " + ", ".join(esc(t.name) for t in o.teams))
        out.append("")
    else:
        out += ["_No project or person owns this model._", ""]

    out += ["## Version history", ""]
    out += table(("Version", "Stage", "Created", "Changes from the version before"),
                 ((("**" + esc(v.version) + "** (this card)") if v.current else esc(v.version), esc(v.stage),
                   when(v.created_at), changes(v, i == 0)) for i, v in enumerate(card.history))) + [""]
    if card.history_truncated:
        out += ["_Older versions are left out._", ""]

    out += ["## Completeness", ""]
    out += [f"- **Filled:** {', '.join(FIELD_TITLES[f] for f in c.filled) or 'nothing yet'}",
            f"- **Missing:** {', '.join(FIELD_TITLES[f] for f in c.missing) or 'nothing'}", ""]
    return "\n".join(out)
