"""Participant forms: consent, demographics, and the values card (review and guided)."""

from django import forms

from .llm.schemas import validate_card_fields
from .models import ValuesCard


class ConsentForm(forms.Form):
    """Carries Prolific's query parameters from the landing GET to the Agree/Decline POST."""

    PROLIFIC_PID = forms.CharField(required=False, widget=forms.HiddenInput)
    STUDY_ID = forms.CharField(required=False, widget=forms.HiddenInput)
    SESSION_ID = forms.CharField(required=False, widget=forms.HiddenInput)

    def recruitment(self) -> dict[str, str]:
        """The ids that were given; the service trims them to what the model stores."""
        if not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value}


def _choices(*labels: str) -> list[tuple[str, str]]:
    return [("", "—"), *((label, label) for label in labels)]


PREFER_NOT = "Prefer not to say"


class DemographicsForm(forms.Form):
    age_range = forms.ChoiceField(
        required=False,
        label="Age",
        choices=_choices("18-24", "25-34", "35-44", "45-54", "55-64", "65 or older", PREFER_NOT),
    )
    gender = forms.ChoiceField(
        required=False,
        choices=_choices("Woman", "Man", "Non-binary", "Another gender", PREFER_NOT),
    )
    political_affiliation = forms.ChoiceField(
        required=False,
        label="Political affiliation",
        choices=_choices("Democrat", "Republican", "Independent", "Other", PREFER_NOT),
    )
    religion = forms.CharField(
        required=False, max_length=100, help_text="For example Christian, Muslim, none."
    )
    country = forms.CharField(required=False, max_length=100)
    state = forms.CharField(
        required=False, max_length=100, label="State or region", help_text="If you like."
    )


def split_policies(text: str) -> list[str]:
    """One policy per non-empty line, bullets and surrounding spaces removed."""
    lines = (line.strip().lstrip("-*•").strip() for line in text.splitlines())
    return [line for line in lines if line]


class CardForm(forms.Form):
    """Every field of a values card; policies are edited one per line."""

    title = forms.CharField(max_length=120, help_text="A short name, three to five words.")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text="One or two sentences about what this value is.",
    )
    context = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=300,
        label="When does it apply?",
        help_text="For example: “When the user is facing a hard decision about their body”.",
    )
    policies = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=3000,
        label="What a wise person pays attention to",
        help_text="Three to eight, one per line, e.g. “FEELINGS of dread that point to a problem”.",
    )

    @classmethod
    def for_card(cls, card: ValuesCard | None, **kwargs) -> "CardForm":
        if card is None:
            return cls(initial={"context": "When the user is "}, **kwargs)
        initial = {**card.snapshot(), "policies": "\n".join(card.policies)}
        return cls(initial=initial, **kwargs)

    def clean_policies(self) -> list[str]:
        return split_policies(self.cleaned_data["policies"])

    def clean_context(self) -> str:
        context = " ".join(self.cleaned_data["context"].split())
        return "When" + context[4:] if context[:4].lower() == "when" else context

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            fields = self.card_fields()
            for problem in validate_card_fields(**fields, require_caps_anchor=False):
                self.add_error(None, problem)
        return cleaned

    def card_fields(self) -> dict:
        keys = ("title", "description", "policies", "context")
        return {key: self.cleaned_data[key] for key in keys}
