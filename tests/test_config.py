"""Configuration: defaults < config file < environment < explicit options."""

from pathlib import Path

import pytest

from nbreason.config import RunConfig, allowed, field_help, load


def test_precedence_file_then_env_then_options(tmp_path):
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('model = "from-file"\nmax_steps = 3\nnetwork = false\n')
    env = {"NBREASON_CONFIG": str(cfg_file), "NBREASON_MAX_STEPS": "5"}
    config = load(env=env)
    assert (config.model, config.max_steps, config.network) == ("from-file", 5, False)
    config = load({"max_steps": 9, "model": None}, env=env)
    assert (config.model, config.max_steps) == ("from-file", 9)


def test_openai_variables_are_used_when_ours_are_unset(tmp_path):
    env = {"NBREASON_CONFIG": str(tmp_path / "none.toml"), "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://h/v1"}
    config = load(env=env)
    assert config.api_key == "sk-x" and config.base_url == "http://h/v1"
    assert config.public()["api_key"] == "***"


@pytest.mark.parametrize("env,message", [
    ({"NBREASON_MAX_STEPS": "many"}, "NBREASON_MAX_STEPS: expected an integer >= 1, got 'many'"),
    ({"NBREASON_NETWORK": "maybe"}, "NBREASON_NETWORK: expected true or false, got 'maybe'"),
])
def test_bad_values_name_the_variable_and_what_it_accepts(tmp_path, env, message):
    with pytest.raises(ValueError, match=message):
        load(env=env | {"NBREASON_CONFIG": str(tmp_path / "none.toml")})


def test_unknown_setting_in_file_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("max_stepz = 3\n")
    with pytest.raises(ValueError, match="unknown setting"):
        load(env={"NBREASON_CONFIG": str(path)})


def test_null_clears_an_optional_limit(tmp_path):
    config = load(env={"NBREASON_CONFIG": str(tmp_path / "n.toml"), "NBREASON_MAX_COST": "none"})
    assert config.max_cost is None


def test_every_setting_is_documented():
    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for name, (_, env) in field_help().items():
        assert f"`{name}`" in doc and env in doc, name


def test_every_setting_declares_what_it_accepts_and_the_docs_say_it():
    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for name, (default, _) in field_help().items():
        spec = allowed(name)
        assert f"| `{name}` | {spec.describe()} |" in doc, name
        assert spec.check(default, name) == default  # the default itself is allowed


def test_self_check_takes_a_mode_and_the_old_true_false_values():
    assert RunConfig().self_check == "auto"
    assert RunConfig(self_check=True).self_check == "verify"
    assert load({}, env={"NBREASON_SELF_CHECK": "false"}).self_check == "off"
    assert load({}, env={"NBREASON_SELF_CHECK": "Recompute"}).self_check == "recompute"
    with pytest.raises(ValueError, match="self_check: expected one of auto, off, verify, recompute"):
        RunConfig(self_check="sometimes")
    with pytest.raises(ValueError, match="recompute_max"):
        RunConfig(recompute_max=0)
