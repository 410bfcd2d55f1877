"""The real amtool (Alertmanager 0.28, Debian trixie) accepts every alertmanager.yml kmc emits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tools import ROOT, TOOLS, tool

from kmc.components import alertmanager_config
from kmc.model import Alertmanager

AMTOOL = TOOLS / "alertmanager" / "amtool"
CONFIGS = sorted(ROOT.glob("golden/*/out/manifests/*/04-configmap-alertmanager.yaml"))


def _check(text: str, root: Path) -> subprocess.CompletedProcess[str]:
    """`amtool check-config` on `text`, with the Secret files it names created under `root`."""
    local = root / alertmanager_config.SECRETS_DIR.strip("/")
    for line in text.splitlines():
        if alertmanager_config.SECRETS_DIR in line:
            path = local / line.split(alertmanager_config.SECRETS_DIR + "/", 1)[1].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("placeholder\n")
    config = root / "alertmanager.yml"
    config.write_text(text.replace(alertmanager_config.SECRETS_DIR, str(local)))
    return subprocess.run([tool(AMTOOL), "check-config", config], capture_output=True, text=True, timeout=60)


def test_golden_full_has_alertmanager() -> None:
    assert any("golden/full/" in str(path) for path in CONFIGS)
    full = yaml.safe_load((ROOT / "golden/full/out/manifests/default/04-configmap-alertmanager.yaml").read_text())["data"]["alertmanager.yml"]
    for field in ("url_file", "api_url_file", "auth_password_file", "routing_key_file", "service_key_file"):
        assert f"{field}: {alertmanager_config.SECRETS_DIR}/" in full


@pytest.mark.parametrize("configmap", CONFIGS, ids=lambda path: str(path.relative_to(ROOT).parent))
def test_amtool_accepts_config(configmap: Path, tmp_path: Path) -> None:
    text = yaml.safe_load(configmap.read_text())["data"]["alertmanager.yml"]
    result = _check(text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check can fail: a route naming a receiver that does not exist."""
    text = yaml.safe_load((ROOT / "golden/full/out/manifests/default/04-configmap-alertmanager.yaml").read_text())["data"]["alertmanager.yml"]
    result = _check(text.replace("receiver: pager", "receiver: nobody", 1), tmp_path)
    assert result.returncode != 0


_names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_secret = st.builds(lambda name, key: {"secretName": f"s{name}", "key": f"k{key}"}, _names, _names)
_durations = st.sampled_from(["30s", "1m", "5m", "1h30m", "4h", "1d"])
_matchers = st.lists(
    st.builds(
        lambda label, op, value: f'{label}{op}"{value}"', st.sampled_from(["severity", "team", "namespace"]), st.sampled_from(["=", "!=", "=~", "!~"]), _names
    ),
    min_size=1,
    max_size=3,
)
_integrations = st.fixed_dictionaries(
    {},
    optional={
        "webhookConfigs": st.lists(
            st.fixed_dictionaries({"url": _secret}, optional={"sendResolved": st.booleans(), "maxAlerts": st.integers(0, 50)}), max_size=2
        ),
        "emailConfigs": st.lists(
            st.fixed_dictionaries(
                {"to": st.just("a@example.com"), "from": st.just("b@example.com"), "smarthost": st.just("smtp.example.com:25")},
                optional={"authUsername": st.just("am"), "authPassword": _secret, "requireTls": st.booleans(), "sendResolved": st.booleans()},
            ),
            max_size=2,
        ),
        "slackConfigs": st.lists(st.fixed_dictionaries({"apiUrl": _secret}, optional={"channel": st.just("#a"), "sendResolved": st.booleans()}), max_size=2),
        "pagerdutyConfigs": st.lists(st.one_of(st.fixed_dictionaries({"routingKey": _secret}), st.fixed_dictionaries({"serviceKey": _secret})), max_size=2),
    },
)


@st.composite
def _alertmanagers(draw: st.DrawFn) -> Alertmanager:
    receivers = [{"name": f"r{index}", **draw(_integrations)} for index in range(draw(st.integers(1, 4)))]
    names = [receiver["name"] for receiver in receivers]

    def route(depth: int) -> st.SearchStrategy[dict[str, object]]:
        fields = {
            "receiver": st.sampled_from(names),
            "groupWait": _durations,
            "groupInterval": _durations,
            "repeatInterval": _durations,
            "continue": st.booleans(),
        }
        if depth < 2:
            fields["routes"] = st.lists(st.deferred(lambda: route(depth + 1)), max_size=2)
        return st.builds(lambda matchers, extra: {"matchers": matchers, **extra}, _matchers, st.fixed_dictionaries({}, optional=fields))

    root = {
        "receiver": draw(st.sampled_from(names)),
        "groupBy": draw(st.lists(st.sampled_from(["alertname", "namespace", "job"]), unique=True)),
        "routes": draw(st.lists(route(1), max_size=3)),
    }
    inhibit = draw(
        st.lists(st.fixed_dictionaries({"sourceMatchers": _matchers, "targetMatchers": _matchers}, optional={"equal": st.just(["alertname"])}), max_size=2)
    )
    return Alertmanager(False, root, tuple(receivers), tuple(inhibit))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_alertmanagers())
def test_amtool_accepts_generated_configs(tmp_path: Path, alertmanager: Alertmanager) -> None:
    from kmc.text import yaml_text

    result = _check(yaml_text.dump(alertmanager_config.config(alertmanager)), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
