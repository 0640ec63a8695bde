import logging
import threading

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class MoralGraphConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "moralgraph"
    verbose_name = "Moral graph (canonical values, hypotheses, aggregation)"

    def ready(self) -> None:
        if settings.MGE_WARM_ENCODER:
            threading.Thread(target=_warm_encoder, name="warm-encoder", daemon=True).start()


def _warm_encoder() -> None:
    from moralgraph.reranker.embedding import EncoderUnavailable, load_encoder

    try:
        load_encoder()
    except EncoderUnavailable as exc:
        logger.info("Embedding model not warmed: %s", exc)
