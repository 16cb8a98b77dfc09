"""Settings: read from the environment as declared, and the README's tables agree with the declarations."""

import re
from dataclasses import fields
from pathlib import Path

import pytest

from fhir_server.config import Settings, env_var

README = Path(__file__).resolve().parents[2] / "README.md"
# A row of a settings table: | `VARIABLE` | default | meaning |
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*?) \|", re.MULTILINE)
DECLARED = {env_var(f).name: f for f in fields(Settings) if env_var(f)}


def readme_defaults() -> dict[str, str]:
    rows = ROW.findall(README.read_text(encoding="utf-8"))
    assert len(rows) == len(dict(rows)), "a variable has two rows in the README"
    return dict(rows)


def written(default) -> str | None:
    """A declared default as the README writes it: in backquotes; None: unset (said in words)."""
    if default is None:
        return None
    return f"`{str(default).lower() if isinstance(default, bool) else default}`"


def test_every_readme_row_names_a_declared_variable():
    assert sorted(set(readme_defaults()) - set(DECLARED)) == []


def test_every_declared_variable_has_a_readme_row():
    assert sorted(set(DECLARED) - set(readme_defaults())) == []


@pytest.mark.parametrize("variable", sorted(DECLARED))
def test_readme_default_is_the_declared_one(variable):
    in_readme = readme_defaults()[variable]
    expected = written(DECLARED[variable].default)
    if expected is None:
        assert not in_readme.startswith("`"), f"{variable}: declared unset, README {in_readme}"
    else:
        assert in_readme == expected


@pytest.fixture
def clean_env(monkeypatch):
    for variable in DECLARED:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_unset_variables_give_the_declared_defaults(clean_env):
    assert Settings.from_env() == Settings()


def test_variables_are_parsed(clean_env):
    clean_env.setenv("FHIR_SERVER_MAX_COUNT", "50")
    clean_env.setenv("FHIR_SERVER_BASE_URL", "https://carnet.example/fhir/")
    clean_env.setenv("FHIR_SERVER_EMERGENCY_SEES_MASKED", " TRUE ")
    clean_env.setenv("FHIR_SERVER_PRO_IDP_ISSUER", "https://idp.example")
    settings = Settings.from_env(default_count=5)
    assert settings.max_count == 50 and settings.default_count == 5
    assert settings.base_url == "https://carnet.example/fhir"
    assert settings.emergency_sees_masked is True
    assert settings.pro_idp_issuer == "https://idp.example"
    clean_env.setenv("FHIR_SERVER_EMERGENCY_SEES_MASKED", "no")
    assert Settings.from_env().emergency_sees_masked is False


def test_blank_variables(clean_env):
    """An empty variable is unset where a value is optional; an empty number is an error."""
    for variable in ("MONGODB_URI", "FHIR_SERVER_DATA_DIR", "FHIR_SERVER_PRO_IDP_SCOPE"):
        clean_env.setenv(variable, "")
    settings = Settings.from_env()
    assert settings.mongodb_uri is None
    assert settings.data_dir == "carnet-data"
    assert settings.pro_idp_scope == "openid"
    clean_env.setenv("FHIR_SERVER_DEFAULT_COUNT", "")
    with pytest.raises(ValueError):
        Settings.from_env()


def test_a_number_that_is_not_one_is_an_error(clean_env):
    clean_env.setenv("FHIR_SERVER_TOKEN_LIFETIME", "15min")
    with pytest.raises(ValueError):
        Settings.from_env()
