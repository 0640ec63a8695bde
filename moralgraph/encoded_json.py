"""Large JSON documents written whole and read whole: a graph build's sections.

:class:`JSONTextField` keeps them in PostgreSQL's ``json`` type (the text as written, checked
but not converted) rather than ``jsonb``: a section is never queried inside, and converting
megabytes to ``jsonb`` took most of a large build's write (1.96 s against 0.75 s for one 44 MB
section). Elsewhere it is Django's ``JSONField``.

:class:`EncodedJSON` hands the database text already encoded: a build encodes each section
once, to hash it, and ``JSONField`` would ``json.dumps`` the dict again.
"""

import json
from typing import Any

from django.db.models import Expression, JSONField


class JSONTextField(JSONField):
    def db_type(self, connection: Any) -> str:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg parses ``json`` itself (Django leaves only ``jsonb`` as text for it).
        if value is None or not isinstance(value, str):
            return value
        return json.loads(value, cls=self.decoder)


class EncodedJSON(Expression):
    output_field = JSONTextField()

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[str]]:
        return "%s", [self.text]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[str]]:
        return "%s::json", [self.text]
