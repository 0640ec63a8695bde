from django.apps import AppConfig


class MoralGraphConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "moralgraph"
    verbose_name = "Moral graph (canonical values, hypotheses, aggregation)"
