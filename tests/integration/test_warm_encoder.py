"""With MGE_WARM_ENCODER, the embedding model loads in the background as the app starts."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import threading, django
django.setup()
from moralgraph.reranker import embedding
warmers = [t for t in threading.enumerate() if t.name == "warm-encoder"]
for t in warmers:
    t.join(120)
print(len(warmers), "cpu" in embedding._encoders)
"""


def run_setup(flag: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "MGE_WARM_ENCODER": flag,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return done.stdout.strip()


def test_the_model_is_warmed_at_start_up_when_asked():
    assert run_setup("true") == "1 True"


def test_nothing_is_loaded_at_start_up_by_default():
    assert run_setup("false") == "0 False"
