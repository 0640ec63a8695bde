"""The export writers and the guided-answer helpers import no Django, no SDK, no torch."""

import subprocess
import sys
from pathlib import Path


def test_export_modules_import_without_django_openai_or_torch():
    code = (
        "import sys, moralgraph.export, moralgraph.export.training, moralgraph.guided_answers\n"
        "heavy = {'django', 'openai', 'torch', 'sentence_transformers'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not bad, bad\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).resolve().parents[2]
    )
