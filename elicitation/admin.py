from django.contrib import admin

from .models import Context, Interview, LLMCall, Message, Participant, Question, Study, ValuesCard


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 1


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "state", "tokens_spent", "token_budget", "created_at"]
    readonly_fields = ["tokens_spent"]
    list_filter = ["state"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [QuestionInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["title", "study", "order"]
    list_filter = ["study"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "prolific_pid", "consented_at", "completed_at"]
    list_filter = ["study"]
    search_fields = ["prolific_pid"]
    readonly_fields = ["token", "created_at"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["role", "content", "is_complete", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "question", "status", "updated_at"]
    list_filter = ["status", "question__study"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "interview", "role", "is_complete", "created_at"]
    list_filter = ["role"]


@admin.register(Context)
class ContextAdmin(admin.ModelAdmin):
    list_display = ["name", "study"]
    list_filter = ["study"]
    search_fields = ["name"]


@admin.register(ValuesCard)
class ValuesCardAdmin(admin.ModelAdmin):
    list_display = ["title", "study", "status", "source", "created_at"]
    list_filter = ["status", "source", "study"]
    search_fields = ["title", "description"]


@admin.register(LLMCall)
class LLMCallAdmin(admin.ModelAdmin):
    list_display = [
        "purpose",
        "model",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "cost_usd",
        "error",
        "created_at",
    ]
    list_filter = ["purpose", "model"]
