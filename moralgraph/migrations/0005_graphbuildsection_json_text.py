"""Graph build sections in PostgreSQL's ``json`` type (the text as written) rather than
``jsonb``, compressed with lz4 where the server has it (see :mod:`moralgraph.encoded_json`)."""

from django.db import migrations

import moralgraph.encoded_json

LZ4 = """
DO $$ BEGIN
    ALTER TABLE moralgraph_graphbuildsection ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN NULL;
END $$;
"""


def compress_with_lz4(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LZ4)


class Migration(migrations.Migration):
    dependencies = [
        ("moralgraph", "0004_graphbuild_wave_label"),
    ]

    operations = [
        migrations.AlterField(
            model_name="graphbuildsection",
            name="data",
            field=moralgraph.encoded_json.JSONTextField(),
        ),
        migrations.RunPython(compress_with_lz4, migrations.RunPython.noop),
    ]
