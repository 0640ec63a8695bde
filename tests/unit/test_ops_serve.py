import sys

import pytest

from ops.serve import server_command


def test_uvicorn_serves_the_app_with_uvloop_httptools_and_no_proxy_headers():
    argv = server_command("uvicorn", "127.0.0.1", 8123)

    assert argv[:4] == [sys.executable, "-m", "uvicorn", "config.asgi:application"]
    assert ["--loop", "uvloop"] == argv[argv.index("--loop") : argv.index("--loop") + 2]
    assert "httptools" in argv and "--no-proxy-headers" in argv
    assert argv[argv.index("--port") + 1] == "8123"


def test_daphne_remains_available_by_name():
    argv = server_command("daphne", "127.0.0.1", 8123)

    assert argv[1:3] == ["-m", "daphne"] and "--proxy-headers" not in argv


def test_an_unknown_server_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="uvicorn, daphne"):
        server_command("gunicorn", "127.0.0.1", 8123)
