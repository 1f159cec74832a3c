"""Configuration: defaults < config file < environment < explicit options."""

from pathlib import Path

import pytest

from nbreason.config import ConfigError, RunConfig, allowed, field_help, load


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


def test_none_in_the_environment_clears_a_limit_the_config_file_set(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("max_seconds = 30\n")
    assert load(env={"NBREASON_CONFIG": str(path)}).max_seconds == 30
    assert load(env={"NBREASON_CONFIG": str(path), "NBREASON_MAX_SECONDS": "none"}).max_seconds is None


def test_none_given_as_an_option_clears_a_limit_or_a_trace_and_not_given_keeps_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('max_seconds = 30\ntrace = "run.jsonl"\n')
    env = {"NBREASON_CONFIG": str(path)}
    assert (load({"max_seconds": None, "trace": None}, env=env).max_seconds, load(env=env).trace) == (30, "run.jsonl")
    cleared = load({"max_seconds": "none", "trace": "none"}, env=env)  # `--max-seconds none --trace none`
    assert (cleared.max_seconds, cleared.trace) == (None, None)


def test_replace_with_none_clears_the_setting_and_is_refused_where_a_value_is_needed():
    config = RunConfig(trace="run.jsonl", max_seconds=30, seed=3)
    cleared = config.replace(trace=None, max_seconds=None, seed=None)
    assert (cleared.trace, cleared.max_seconds, cleared.seed) == (None, None, None)
    assert config.replace(max_steps=2).trace == "run.jsonl"  # a field left out is kept
    with pytest.raises(ConfigError, match="max_steps: expected an integer >= 1, got none"):
        config.replace(max_steps=None)


def test_an_attempt_writes_no_trace_of_its_own():
    from nbreason.attempts import attempt_config

    config = RunConfig(trace="run.jsonl", seed=5)
    assert config.trace == "run.jsonl"
    assert attempt_config(config, 2).trace is None and attempt_config(config, 2).seed == 7


ENUMS = [name for name in field_help() if allowed(name).choices]


def test_the_enum_settings_are_the_ones_with_choices():
    assert set(ENUMS) == {"protocol", "sandbox", "self_check", "answer_type", "strategy"}


@pytest.mark.parametrize("name", ENUMS)
def test_every_enum_setting_refuses_an_unknown_value_naming_its_choices(name, tmp_path):
    choices = ", ".join(allowed(name).choices)
    with pytest.raises(ConfigError, match=f"^{name}: expected one of {choices}, got 'bogus'$"):
        RunConfig(**{name: "bogus"})
    with pytest.raises(ConfigError, match=f"^NBREASON_{name.upper()}: expected one of {choices}, got 'bogus'$"):
        load(env={"NBREASON_CONFIG": str(tmp_path / "none.toml"), f"NBREASON_{name.upper()}": "bogus"})
    with pytest.raises(ConfigError, match=f"^--flag: expected one of {choices}, got 'bogus'$"):
        load({name: "bogus"}, env={"NBREASON_CONFIG": str(tmp_path / "none.toml")}, labels={name: "--flag"})


def test_an_unknown_strategy_and_sandbox_are_refused():
    with pytest.raises(ConfigError, match="^strategy: expected one of vote, wvote, adaptive, got 'bogus'$"):
        RunConfig(strategy="bogus", sandbox="local")
    with pytest.raises(ConfigError, match="^sandbox: expected one of local, e2b, got 'nowhere'$"):
        RunConfig(sandbox="nowhere")


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


def test_self_check_takes_a_mode_and_the_old_true_false_values(tmp_path):
    env = {"NBREASON_CONFIG": str(tmp_path / "none.toml")}
    assert RunConfig().self_check == "auto"
    assert RunConfig(self_check=True).self_check == "verify"
    assert load({}, env=env | {"NBREASON_SELF_CHECK": "false"}).self_check == "off"
    assert load({}, env=env | {"NBREASON_SELF_CHECK": "Recompute"}).self_check == "recompute"
    with pytest.raises(ValueError, match="self_check: expected one of auto, off, methods, verify, recompute"):
        RunConfig(self_check="sometimes")
    with pytest.raises(ValueError, match="recompute_max"):
        RunConfig(recompute_max=0)


# -- the one table of flags ----------------------------------------------------------------------

def _options(parser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings} - {"-h", "--help"}


def _run_parser():
    import argparse

    from nbreason.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["run"]


def test_nbreason_run_offers_exactly_the_run_flags_of_the_table_and_its_own():
    from nbreason import flags

    own = {"--with", "--continue", "--context", "--json", "--quiet"}
    assert _options(_run_parser()) == flags.option_strings(flags.RUN) | own


def test_the_magic_offers_exactly_the_magic_flags_of_the_table_and_its_own():
    from nbreason import flags
    from nbreason.magic import ReasonMagics

    own = {"--with", "--check", "--continue", "--return", "-o", "--output", "--quiet"}
    assert _options(ReasonMagics.reason.parser) == flags.option_strings(flags.MAGIC) | own


def test_nbreason_bench_offers_exactly_the_bench_flags_of_the_table_and_its_own():
    from nbreason import flags
    from nbreason.bench.cli import parser

    own = {"--dataset", "--limit", "--skip", "--strategies", "--out", "--threads", "--summarize-only"}
    assert _options(parser()) == flags.option_strings(flags.BENCH) | own


def test_flag_names_people_already_use_keep_their_meaning():
    from nbreason import flags

    meaning = {"--max-tokens": "max_total_tokens", "--max-call-tokens": "max_tokens", "--timeout": "exec_timeout",
               "--exec-timeout": "exec_timeout", "--threshold": "reward_threshold", "--no-network": "network",
               "--no-backtrack": "backtrack", "--confine": "confine", "--self-check": "self_check"}
    table = {s: f.field for f in flags.FLAGS for s in f.option_strings}
    assert {s: table[s] for s in meaning} == meaning
    assert "--with" not in table  # a notebook's own option, not a setting


def test_every_flag_sets_a_setting_once_and_one_spelling_means_one_setting():
    from nbreason import flags

    assert len({f.field for f in flags.FLAGS}) == len(flags.FLAGS)
    spellings = [s for f in flags.FLAGS for s in f.option_strings]
    assert len(spellings) == len(set(spellings))
    for flag in flags.FLAGS:
        allowed(flag.field)  # a real setting
        assert flag.surfaces and flag.surfaces <= set(flags.SURFACES), flag.name


def test_flags_left_out_are_not_given_so_the_file_and_environment_count(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("max_steps = 3\nnetwork = false\nexec_timeout = 7\n")
    env = {"NBREASON_CONFIG": str(path), "NBREASON_MAX_SECONDS": "30"}
    parser = _run_parser()
    from nbreason import flags

    args = parser.parse_args(["q"])
    values, _ = flags.given(args, flags.RUN)
    assert values == {}
    config = load(values, env=env)
    assert (config.max_steps, config.network, config.exec_timeout, config.max_seconds) == (3, False, 7, 30)
    args = parser.parse_args(["--max-steps", "5", "--network", "--exec-timeout", "9", "--max-seconds", "none", "q"])
    values, labels = flags.given(args, flags.RUN)
    config = load(values, env=env, labels=labels)
    assert (config.max_steps, config.network, config.exec_timeout, config.max_seconds) == (5, True, 9, None)
    assert labels["exec_timeout"] == "--exec-timeout"  # a message names the flag as typed


def test_help_shows_each_flag_with_the_default_in_effect_and_its_variable(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text("max_steps = 3\n")
    monkeypatch.setenv("NBREASON_CONFIG", str(path))
    monkeypatch.delenv("NBREASON_MAX_STEPS", raising=False)
    text = " ".join(_run_parser().format_help().split())
    assert "budget: steps; an integer >= 1 [default 3; env NBREASON_MAX_STEPS]" in text
    from nbreason import flags

    for flag in flags.flags_for(flags.RUN):
        assert flag.name in text and f"NBREASON_{flag.field.upper()}" in text


@pytest.mark.parametrize("env,message", [
    ({"NBREASON_MEMORY_MB": "99999999999999999999"}, "expected an integer from 1024 to 16777216"),
    ({"NBREASON_ATTEMPTS": "100000"}, "NBREASON_ATTEMPTS: expected an integer from 1 to 64"),
    ({"NBREASON_PARALLEL": "100000"}, "NBREASON_PARALLEL: expected an integer from 1 to 64"),
    ({"NBREASON_BASE_URL": "http://127.0.0.1:99999/v1"}, "NBREASON_BASE_URL: expected an http"),
    ({"NBREASON_BASE_URL": "http://127.0.0.1:abc/v1"}, "NBREASON_BASE_URL: expected an http"),
    ({"NBREASON_BASE_URL": "http://[::1/v1"}, "NBREASON_BASE_URL: expected an http"),
    ({"NBREASON_BASE_URL": "http://:8000/v1"}, "NBREASON_BASE_URL: expected an http"),
    ({"NBREASON_TRACE": "run\x00.jsonl"}, "NBREASON_TRACE: expected a file path"),
    ({"NBREASON_WORKDIR": "/tmp/w\x00"}, "NBREASON_WORKDIR: expected a folder"),
    ({"NBREASON_API_KEY": "sk-one two"}, r"NBREASON_API_KEY: expected a key, or none \(no key\), got '\*\*\*'$"),
])
def test_values_the_run_would_only_trip_on_later_are_refused_at_once_naming_their_source(tmp_path, env, message):
    with pytest.raises(ValueError, match=message):
        load(env=env | {"NBREASON_CONFIG": str(tmp_path / "none.toml")})


def test_a_key_read_with_its_line_end_is_used_without_it(tmp_path):
    """A .env file saved with CRLF line ends: the key came with a \\r, which the HTTP library
    refused and then quoted escaped, where the redactor did not look for it."""
    config = load(env={"NBREASON_CONFIG": str(tmp_path / "none.toml"), "OPENAI_API_KEY": "sk-proj-abc123def456\r\n"})
    assert config.api_key == "sk-proj-abc123def456"
    from nbreason.redact import Redactor

    redactor = Redactor.for_config(config, {"OPENAI_API_KEY": "sk-proj-abc123def456\r\n"})
    assert "abc123" not in redactor.text("Illegal header value b'Bearer sk-proj-abc123def456\\r\\n'")


@pytest.mark.parametrize("url", ["admin:Hunter2Secret@llm.internal:8000/v1", "https//admin:Hunter2Secret@llm.internal",
                                 "http:/admin:Hunter2Secret@llm.internal"])
def test_a_refused_base_url_is_quoted_without_what_comes_before_its_at(tmp_path, url):
    with pytest.raises(ValueError) as refused:
        load(env={"NBREASON_CONFIG": str(tmp_path / "none.toml"), "NBREASON_BASE_URL": url})
    assert "Hunter2Secret" not in str(refused.value) and "***@llm.internal" in str(refused.value)


def test_help_shows_a_base_url_default_without_its_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NBREASON_BASE_URL", "https://admin:Hunter2Secret@llm.internal/v1?api-key=QueryKey123456")
    text = _run_parser().format_help()
    assert "Hunter2Secret" not in text and "QueryKey123456" not in text and "llm.internal" in text


def test_a_config_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b'model = "caf\xe9"\n')
    with pytest.raises(ValueError, match=f"{path}: not valid TOML"):
        load(env={"NBREASON_CONFIG": str(path)})


def test_a_setting_given_bytes_that_are_not_utf8_is_refused_in_one_line(tmp_path):
    """`--model caf\\xe9` reached the model request as a lone surrogate, which cannot be encoded."""
    with pytest.raises(ValueError, match=r"^--model: not UTF-8 text$"):
        load({"model": "caf\udce9"}, env={"NBREASON_CONFIG": str(tmp_path / "none.toml")}, labels={"model": "--model"})
