"""Dashboard forms: a study's settings and questions, and edits, merges and splits of values."""

from django import forms

from elicitation.forms import split_policies
from elicitation.models import Context, Interview, Question, Study, ValuesCard
from moralgraph.models import CanonicalValue

from .selectors import merge_targets
from .studies import (
    DEFAULT_CADENCE,
    QuestionChanges,
    QuestionDraft,
    StudyFields,
    slug_taken_message,
)

STUDY_SETTINGS = (
    "title",
    "description",
    "consent_text",
    "llm_model",
    "ask_demographics",
    "completion_url",
    "completion_code",
    "token_budget",
    "admission",
    "prolific_study_id",
    "completion_min_messages",
    "completion_min_votes",
    "refresh_every_cards",
    "refresh_every_minutes",
    "card_button_after",
    "max_participant_messages",
    "graph_acquiescence",
)


DEFAULTED_SETTINGS = (
    "admission",
    "completion_min_messages",
    "completion_min_votes",
    "graph_acquiescence",
)


class StudyForm(forms.ModelForm):
    """The study's settings; the slug (its public address) is only chosen at creation."""

    completion_url = forms.URLField(
        required=False,
        label="Completion URL",
        assume_scheme="https",
        help_text=Study._meta.get_field("completion_url").help_text,
    )

    class Meta:
        model = Study
        fields = ["slug", *STUDY_SETTINGS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 5}),
        }
        labels = {
            "llm_model": "LLM model",
            "ask_demographics": "Ask for demographics",
            "card_button_after": '"Make my card" after',
            "max_participant_messages": "Most participant messages",
        }
        help_texts = {"slug": "Part of the study's address, /s/<slug>/; it cannot change later."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["slug"]
        else:
            self.initial.update(DEFAULT_CADENCE)
        for name in DEFAULTED_SETTINGS:  # left out of a post: the study keeps its value
            self.fields[name].required = False

    def _kept(self, name: str):
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return getattr(self.instance, name)
        return value

    def clean_admission(self) -> str:
        return self._kept("admission")

    def clean_completion_min_messages(self) -> int:
        return self._kept("completion_min_messages")

    def clean_completion_min_votes(self) -> int:
        return self._kept("completion_min_votes")

    def clean_graph_acquiescence(self) -> str:
        return self._kept("graph_acquiescence")

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if Study.objects.filter(slug=slug).exists():
            raise forms.ValidationError(slug_taken_message(slug))
        return slug

    def clean(self) -> dict:
        cleaned = super().clean()
        prolific = cleaned.get("admission") == Study.Admission.PROLIFIC
        if prolific and not cleaned.get("prolific_study_id"):
            self.add_error("prolific_study_id", "Prolific-only studies need Prolific's STUDY_ID.")
        return cleaned

    def study_fields(self) -> StudyFields:
        return StudyFields(**{name: self.cleaned_data[name] for name in STUDY_SETTINGS})


class QuestionForm(forms.ModelForm):
    order = forms.IntegerField(
        required=False, min_value=0, help_text="Lower comes first; empty: after the others."
    )

    class Meta:
        model = Question
        fields = ["title", "text", "order"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}

    def draft(self) -> QuestionDraft:
        data = self.cleaned_data
        return QuestionDraft(title=data["title"], text=data["text"], order=data.get("order"))


class BaseQuestionFormSet(forms.BaseInlineFormSet):
    def changes(self) -> QuestionChanges:
        """The rows the organizer touched: removed, changed, or filled in new."""
        deleted = [form.instance for form in self.deleted_forms if form.instance.pk]
        kept = [f for f in self.forms if f not in self.deleted_forms and f.has_changed()]
        edited = [(form.instance, form.draft()) for form in kept if form.instance.pk]
        added = [form.draft() for form in kept if not form.instance.pk]
        return QuestionChanges(added=added, edited=edited, deleted=deleted)


QuestionFormSet = forms.inlineformset_factory(
    Study, Question, form=QuestionForm, formset=BaseQuestionFormSet, extra=1, can_delete=True
)


class TranscriptFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Interview.Status.choices]
    )
    question = forms.ModelChoiceField(
        required=False, queryset=Question.objects.none(), empty_label="Any question"
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["question"].queryset = study.questions.all()

    def filters(self) -> dict:
        """The chosen filters; none when the query string is not one the form offers."""
        if not self.is_valid():
            return {}
        question = self.cleaned_data["question"]
        return {"status": self.cleaned_data["status"], "question_id": question and question.pk}


class ValueSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=120, label="Title contains")

    def search(self) -> str:
        return self.cleaned_data["q"].strip() if self.is_valid() else ""


class LiveValueForm(forms.Form):
    """A form acting on one canonical value, which must not have been merged away."""

    def __init__(self, *args, value: CanonicalValue, **kwargs) -> None:
        self.value = value
        super().__init__(*args, **kwargs)

    def clean(self) -> dict:
        if self.value.merged_into_id:
            raise forms.ValidationError(
                f"“{self.value}” was merged into “{self.value.merged_into}” and can no longer "
                "change; work on that value instead."
            )
        return super().clean()


class ValueEditForm(LiveValueForm):
    title = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    policies = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=4000,
        label="What a wise person pays attention to",
        help_text="One per line.",
    )

    @classmethod
    def for_value(cls, value: CanonicalValue, data=None) -> "ValueEditForm":
        initial = {
            "title": value.title,
            "description": value.description,
            "policies": "\n".join(value.policies),
        }
        return cls(data, value=value, initial=initial)

    def clean_policies(self) -> list[str]:
        policies = split_policies(self.cleaned_data["policies"])
        if not policies:
            raise forms.ValidationError("Write at least one policy.")
        return policies


class ValueMergeForm(LiveValueForm):
    target = forms.ModelChoiceField(
        queryset=CanonicalValue.objects.none(),
        label="Merge into",
        empty_label="Choose a value…",
        error_messages={
            "required": "Choose the value to merge into.",
            "invalid_choice": "Choose a live value of this study to merge into.",
        },
    )

    def __init__(self, *args, value: CanonicalValue, **kwargs) -> None:
        super().__init__(*args, value=value, **kwargs)
        self.fields["target"].queryset = merge_targets(value)


class ValueSplitForm(LiveValueForm):
    cards = forms.ModelMultipleChoiceField(
        queryset=ValuesCard.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose one or more cards to split off.",
            "invalid_choice": "Choose cards that belong to this value.",
            "invalid_pk_value": "Choose cards that belong to this value.",
        },
    )

    def __init__(self, *args, value: CanonicalValue, **kwargs) -> None:
        super().__init__(*args, value=value, **kwargs)
        self.fields["cards"].queryset = ValuesCard.objects.filter(canonical_link__value=value)

    def card_ids(self) -> list[int]:
        return [card.pk for card in self.cleaned_data["cards"]]


class ContextSeedForm(forms.Form):
    """Contexts an organizer lists for one question, one a line."""

    question = forms.ModelChoiceField(queryset=Question.objects.none())
    names = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Add contexts",
        help_text="One a line, each starting “When”, e.g. “When seeking clarity”.",
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["question"].queryset = study.questions.all()

    def clean_names(self) -> list[str]:
        return [line for line in self.cleaned_data["names"].splitlines() if line.strip()]


class ContextMergeForm(forms.Form):
    """Contexts that mean the same, folded into one of the study's live contexts."""

    target = forms.ModelChoiceField(
        queryset=Context.objects.none(),
        label="Merge into",
        error_messages={"required": "Choose the context to merge into."},
    )
    sources = forms.ModelMultipleChoiceField(
        queryset=Context.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose one or more contexts to merge."},
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        live = Context.objects.filter(study=study, merged_into__isnull=True)
        self.fields["target"].queryset = self.fields["sources"].queryset = live

    def clean(self) -> dict:
        data = super().clean()
        sources = [c for c in data.get("sources", []) if c != data.get("target")]
        if data.get("target") and not sources:
            raise forms.ValidationError("Choose contexts other than the one to merge into.")
        data["sources"] = sources
        return data
