"""Settings are declared once (config.py): the README's table and ``serve --help`` come from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_images import config
from sagemaker_images.cli import build_parser, main
from sagemaker_images.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_the_declared_settings():
    text = README.read_text()
    table = config.readme_table()
    assert table in text, (
        "README.md's configuration table is out of step with config.py; replace it with the output of "
        "`python -m sagemaker_images.config`"
    )


def test_every_setting_is_a_serve_flag_with_its_default_and_environment_variable(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for setting in config.settings():
        assert config.flag(setting) in text
        assert Settings.env_name(setting.name) in text
        assert f"(default {config.shown_default(setting)})" in text


def test_flags_override_the_environment_which_overrides_defaults():
    args = build_parser().parse_args(["serve", "--port", "9001", "--reject-concurrent-version-creates"])
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    environ = {"SAGEMAKER_IMAGES_PORT": "9000", "SAGEMAKER_IMAGES_TRANSITION_DELAY": "0.5"}
    settings = Settings.from_environment(environ, **overrides)
    assert (settings.port, settings.transition_delay) == (9001, 0.5)
    assert settings.reject_concurrent_version_creates is True
    assert settings.max_images == Settings().max_images == 0
    with pytest.raises(SystemExit):
        Settings.from_environment({"SAGEMAKER_IMAGES_MAX_IMAGES": "many"})
