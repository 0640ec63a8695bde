"""The dashboard's live socket: staff only; pushes a study's progress snapshot when it changes.

Counts change in web processes and in Celery workers alike, so the socket reads the database
on a short timer instead of trusting in-process signals; it sends only when the snapshot
differs from the last one it sent.
"""

import asyncio

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from elicitation.asyncdb import db_aside
from elicitation.models import Study

from .access import is_staff
from .progress import study_progress

CLOSE_FORBIDDEN = 4403


class StudyProgressConsumer(AsyncJsonWebsocketConsumer):
    pusher: asyncio.Task | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        user = self.scope.get("user")
        study = await db_aside(_study)(slug) if is_staff(user) else None
        if study is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.study_id = study.pk
        await self.accept()
        self.pusher = asyncio.create_task(self.push_changes())

    async def disconnect(self, code: int) -> None:
        if self.pusher:
            self.pusher.cancel()

    async def push_changes(self) -> None:
        last = None
        while True:
            snapshot = await db_aside(_snapshot)(self.study_id)
            if snapshot != last:
                await self.send_json({"type": "progress", "progress": snapshot})
                last = snapshot
            await asyncio.sleep(settings.MGE_DASHBOARD_PUSH_SECONDS)


def _study(slug: str) -> Study | None:
    return Study.objects.filter(slug=slug).first()


def _snapshot(study_id: int) -> dict | None:
    study = Study.objects.filter(pk=study_id).first()
    return study_progress(study) if study else None
