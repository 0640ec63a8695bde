"""JSON text already encoded, written to a JSON column as it is.

A graph build encodes each section once, to hash it; handing the same text to the database
spares a second encoding of megabytes (``JSONField`` would ``json.dumps`` the dict again).
"""

from typing import Any

from django.db.models import Expression, JSONField


class EncodedJSON(Expression):
    output_field = JSONField()

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[str]]:
        return "%s", [self.text]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[str]]:
        return "%s::jsonb", [self.text]
