"""Admin for canonical values, card links and hypotheses; merge and split go through services."""

from collections import defaultdict

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import CanonicalValue, CardLink, GraphBuild, UpgradeHypothesis


class CardLinkInline(admin.TabularInline):
    model = CardLink
    extra = 0
    fields = ["card", "method", "similarity", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CanonicalValue)
class CanonicalValueAdmin(admin.ModelAdmin):
    list_display = ["title", "study", "cards", "merged_into", "created_at"]
    list_filter = ["study", ("merged_into", admin.EmptyFieldListFilter)]
    search_fields = ["title", "description"]
    readonly_fields = ["merged_into", "embedding_model", "external_id", "created_at"]
    inlines = [CardLinkInline]
    actions = ["merge_into_first"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CanonicalValue]:
        queryset = super().get_queryset(request).select_related("study", "merged_into")
        return queryset.annotate(card_count=Count("card_links"))

    @admin.display(description="cards", ordering="card_count")
    def cards(self, value: CanonicalValue) -> str:
        url = reverse("admin:moralgraph_cardlink_changelist") + f"?value__id__exact={value.pk}"
        return format_html('<a href="{}">{}</a>', url, value.card_count)

    @admin.action(description="Merge selected values into the first (lowest id)")
    def merge_into_first(self, request: HttpRequest, queryset: QuerySet[CanonicalValue]) -> None:
        target, *sources = queryset.order_by("id")
        if not sources:
            self.message_user(request, "Select two or more values to merge.", messages.WARNING)
            return
        try:
            services.canonical_values_merge(target=target, sources=sources)
        except ValueError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"Merged {len(sources)} value(s) into “{target}”.")


@admin.register(CardLink)
class CardLinkAdmin(admin.ModelAdmin):
    list_display = ["card", "value", "method", "similarity", "created_at"]
    list_filter = ["method", "value__study"]
    search_fields = ["card__title", "value__title"]
    list_select_related = ["card", "value"]
    readonly_fields = ["card", "value", "method", "similarity", "created_at"]
    actions = ["split_into_new_value"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Split selected cards off into a new value (one per value)")
    def split_into_new_value(self, request: HttpRequest, queryset: QuerySet[CardLink]) -> None:
        by_value = defaultdict(list)
        for link in queryset.select_related("value"):
            by_value[link.value].append(link.card_id)
        for value, card_ids in by_value.items():
            try:
                new = services.canonical_value_split(value=value, card_ids=card_ids)
            except ValueError as error:
                self.message_user(request, f"“{value}”: {error}", messages.ERROR)
            else:
                moved = f"{len(card_ids)} card(s) of “{value}” now form “{new}”."
                self.message_user(request, moved)


@admin.register(UpgradeHypothesis)
class UpgradeHypothesisAdmin(admin.ModelAdmin):
    list_display = ["from_value", "to_value", "context", "source", "votes", "is_active"]
    list_editable = ["is_active"]
    list_filter = ["study", "source", "is_active"]
    search_fields = ["story", "from_value__title", "to_value__title"]
    raw_id_fields = ["from_value", "to_value", "context"]
    readonly_fields = ["prompt_version", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[UpgradeHypothesis]:
        queryset = super().get_queryset(request)
        related = queryset.select_related("from_value", "to_value", "context")
        return related.annotate(vote_count=Count("votes"))

    @admin.display(description="votes", ordering="vote_count")
    def votes(self, hypothesis: UpgradeHypothesis) -> int:
        return hypothesis.vote_count


@admin.register(GraphBuild)
class GraphBuildAdmin(admin.ModelAdmin):
    """Builds are made by the aggregation job; here they can only be looked at."""

    list_display = ["study", "built_at", "short_version"]
    list_filter = ["study"]
    list_select_related = ["study"]
    fields = ["study", "built_at", "graph_version", "config", "summary"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[GraphBuild]:
        return super().get_queryset(request).defer("summary")

    @admin.display(description="graph version")
    def short_version(self, build: GraphBuild) -> str:
        return build.graph_version[:12]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
