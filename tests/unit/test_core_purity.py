"""The aggregation core imports no Django and no SDK."""

import subprocess
import sys
from pathlib import Path


def test_core_imports_without_django_or_openai():
    code = (
        "import sys, moralgraph.core, moralgraph.core.__main__, moralgraph.core.inputs\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'openai', 'torch'})\n"
        "assert not bad, bad\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).resolve().parents[2]
    )
