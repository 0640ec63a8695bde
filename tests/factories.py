"""Small builders for rows that several test modules need."""

from elicitation import services
from elicitation.models import Context, Study, ValuesCard, WisdomVote
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis


def linked_value(context: Context, title: str) -> CanonicalValue:
    """A confirmed card in `context`, already deduplicated into its own canonical value."""
    card = ValuesCard.objects.create(
        study=context.study,
        title=title,
        description=f"What {title} is about.",
        policies=[f"MOMENTS of {title.lower()}"],
        context=context,
        status=ValuesCard.Status.CONFIRMED,
    )
    value = CanonicalValue.objects.create(
        study=context.study, title=title, description=card.description, policies=card.policies
    )
    CardLink.objects.create(card=card, value=value, method=CardLink.Method.NEW)
    return value


def voted_chain(
    study: Study, titles: tuple[str, str, str], *, voters: int = 6, name: str
) -> tuple[Context, tuple[CanonicalValue, ...]]:
    """Three values in one context, each hypothesised wiser than the one before, and `voters`
    consented voters: two of every three find each upgrade wiser, the third does not."""
    context = Context.objects.create(study=study, name=name)
    values = tuple(linked_value(context, title) for title in titles)
    hypotheses = [
        UpgradeHypothesis.objects.create(study=study, context=context, from_value=a, to_value=b)
        for a, b in zip(values, values[1:], strict=False)
    ]
    for number in range(voters):
        voter = services.participant_start(study=study)
        services.participant_consent(participant=voter, agreed=True)
        for hypothesis in hypotheses:
            answer = WisdomVote.Answer.WISER if number % 3 else WisdomVote.Answer.NOT_WISER
            WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer=answer)
    return context, values


def voted_study(study, voters: int = 6) -> Context:
    """Plain facts -> Care (a script in its title) -> Depth of feeling, in one context."""
    titles = ("Plain facts", "<script>alert(1)</script> Care", "Depth of feeling")
    name = "When the user is <b>grieving</b>"
    return voted_chain(study, titles, voters=voters, name=name)[0]


def a_new_wiser_value(study, context: Context) -> CanonicalValue:
    """A new value in `context` that four new voters judged wiser than "Depth of feeling"."""
    wisest = CanonicalValue.objects.get(title="Depth of feeling")
    newer = linked_value(context, "Quiet company")
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=wisest, to_value=newer
    )
    for _ in range(4):
        voter = services.participant_start(study=study)
        services.participant_consent(participant=voter, agreed=True)
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")
    return newer


def small_graph(study) -> dict:
    """Three values in one context, two upgrade hypotheses, six voters who consented."""
    titles = ("Honesty", "Presence", "Courage")
    context, values = voted_chain(study, titles, name="When the user is grieving")
    context.questions.add(study.questions.get())
    return {"context": context, "values": values}
