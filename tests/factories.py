"""Small builders for rows that several test modules need."""

from elicitation.models import Context, ValuesCard
from moralgraph.models import CanonicalValue, CardLink


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
