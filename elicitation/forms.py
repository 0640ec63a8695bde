"""Participant forms: consent, demographics, the values card (review and guided), wisdom votes
and the closing feedback questions."""

import uuid

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from .completion import card_substance_problems
from .hygiene import MAX_ID, TextRefused, is_visible, participant_text
from .llm.schemas import validate_card_fields
from .models import ValuesCard, WisdomVote


def validate_participant_text(value: str) -> None:
    """The hygiene gate as a form validator (Django skips it for empty optional fields)."""
    try:
        participant_text(value)
    except TextRefused as refused:
        raise ValidationError(refused.message, code=refused.code) from None


class ParticipantForm(forms.Form):
    """A form a participant fills in: every text field passes the hygiene gate."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(validate_participant_text)


class ConsentForm(ParticipantForm):
    """Carries Prolific's query parameters from the landing GET to the Agree/Decline POST."""

    PROLIFIC_PID = forms.CharField(required=False, widget=forms.HiddenInput)
    STUDY_ID = forms.CharField(required=False, widget=forms.HiddenInput)
    SESSION_ID = forms.CharField(required=False, widget=forms.HiddenInput)
    invite = forms.CharField(required=False, widget=forms.HiddenInput)

    def recruitment(self) -> dict[str, str]:
        """Prolific's ids that were given; admission refuses ids longer than it stores."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {key: data[key] for key in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID") if data[key]}

    def invite_code(self) -> str:
        return self.cleaned_data.get("invite", "") if self.is_valid() else ""


def _choices(*labels: str) -> list[tuple[str, str]]:
    return [("", "—"), *((label, label) for label in labels)]


PREFER_NOT = "Prefer not to say"


class DemographicsForm(ParticipantForm):
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
    """One policy per line with something visible on it, bullets and surrounding spaces removed."""
    lines = (line.strip().lstrip("-*•").strip() for line in text.splitlines())
    return [line for line in lines if is_visible(line)]


class CardForm(ParticipantForm):
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

    def has_substance(self) -> bool:
        """For confirming: says what a card of junk ("." or "a b") lacks, as form errors."""
        data = self.cleaned_data
        problems = card_substance_problems(
            title=data["title"], description=data["description"], policies=data["policies"]
        )
        for problem in problems:
            self.add_error(None, problem)
        return not problems


ANSWER_CHOICES = [
    (WisdomVote.Answer.WISER, "B is wiser"),
    (WisdomVote.Answer.NOT_WISER, "B is not wiser"),
    (WisdomVote.Answer.LESS_WISE, "B is less wise"),
    (WisdomVote.Answer.UNSURE, "I’m not sure"),
]
ANSWER_HINTS = {
    WisdomVote.Answer.WISER: "B keeps what mattered in A and sees more.",
    WisdomVote.Answer.NOT_WISER: "About as wise, or just different.",
    WisdomVote.Answer.LESS_WISE: "A was the wiser way to see it.",
    WisdomVote.Answer.UNSURE: "",
}


class VoteForm(ParticipantForm):
    """One answer to "is B wiser than A here?"; `client_id` makes a resubmission harmless."""

    hypothesis = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_ID)
    client_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    answer = forms.ChoiceField(
        choices=ANSWER_CHOICES,
        widget=forms.RadioSelect,
        label="Is B wiser than A for this context?",
        error_messages={"required": "Please choose one of the four answers."},
    )
    reason = forms.CharField(
        required=False,
        label="Why? Tell us in your own words",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A sentence is plenty.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].max_length = settings.MGE_MESSAGE_MAX_CHARS
        self.fields["reason"].widget.attrs["maxlength"] = settings.MGE_MESSAGE_MAX_CHARS

    @classmethod
    def for_hypothesis(cls, hypothesis_id: int) -> "VoteForm":
        return cls(initial={"hypothesis": hypothesis_id, "client_id": uuid.uuid4().hex})

    def answer_options(self) -> list[tuple]:
        """Each radio button with its one-line explanation."""
        return [(radio, ANSWER_HINTS[radio.data["value"]]) for radio in self["answer"]]


LIKERT = [(n, str(n)) for n in range(1, 6)]  # 1: not at all, 5: completely


def _likert(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=LIKERT,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose a number from 1 to 5."},
    )


class FeedbackForm(ParticipantForm):
    """The closing questions of the moral graph paper, on a scale of 1 to 5."""

    represented = _likert("Did you feel your values were represented?")
    process_fair = _likert("Was the process fair?")
    graph_fair = _likert("Would the resulting moral graph be fair?")
    comment = forms.CharField(
        required=False,
        max_length=2000,
        label="Anything else you’d like to tell us?",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
