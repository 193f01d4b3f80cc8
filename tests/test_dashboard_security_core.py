"""The pure parts of the dashboard's defences: redirect targets, client addresses, login pauses,
callback request shapes, the log bucket and the Content-Security-Policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coopwatt.settings import SettingsError, load_settings
from dashboard.auth import safe_redirect_path
from dashboard.callback_requests import callback_request_problem
from dashboard.client_address import client_address, forwarded_scheme, parse_networks
from dashboard.rejections import LogBucket
from dashboard.security_headers import content_security_policy
from dashboard.throttle import PauseRule, pause_after, wait_s

# Each of these reached another site from a redirect of the dashboard, or could in some browser.
OPEN_REDIRECTS = [
    "/\t/x//evil.example/phish",      # the reported attack (next=/%09/x//evil.example/phish)
    "/%09/x//evil.example/phish",     # the same, encoded once more
    "//evil.example/phish",
    "///evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "https://evil.example/",
    "http:evil.example",
    "\\\\evil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/%0d%0a//evil.example",
    "/\r\n//evil.example",
    " /evil",
    "/\x00//evil.example",
    "/\u3000/evil.example",           # ideographic space
    "/\u200b//evil.example",          # zero-width space (not printable)
    "evil.example",
    "",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_redirect_targets_that_could_leave_the_site_become_the_home_page(target: str) -> None:
    assert safe_redirect_path(target) == "/"


@pytest.mark.parametrize("target", ["/", "/login", "/adviser?dwelling=12&kind=water", "/manager?b=%C3%A9"])
def test_local_paths_are_kept_as_given(target: str) -> None:
    assert safe_redirect_path(target) == target


def test_non_strings_are_not_redirect_targets() -> None:
    assert safe_redirect_path(None) == "/"
    assert safe_redirect_path(["/x"]) == "/"


PROXIES = parse_networks(["10.0.0.5", "172.18.0.0/16"])


def test_forwarded_for_is_read_only_from_a_trusted_proxy() -> None:
    # From the proxy: the right-most address that is not one of ours is the client.
    assert client_address("10.0.0.5", "203.0.113.9", PROXIES) == "203.0.113.9"
    # A client writing its own X-Forwarded-For cannot choose its address: the proxy appended the real one.
    assert client_address("10.0.0.5", "198.51.100.1, 203.0.113.9", PROXIES) == "203.0.113.9"
    # Two of our proxies in a row: skipped from the right.
    assert client_address("172.18.0.3", "203.0.113.9, 10.0.0.5", PROXIES) == "203.0.113.9"
    # A peer that is not a proxy of ours: the header is the client's word and is ignored.
    assert client_address("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"
    # No trusted proxy configured (the default): ignored too.
    assert client_address("10.0.0.5", "203.0.113.9", ()) == "10.0.0.5"
    # Garbage from the client behind our proxies: the last address we can vouch for.
    assert client_address("10.0.0.5", "not-an-address, 172.18.0.9", PROXIES) == "172.18.0.9"
    assert client_address("10.0.0.5", "", PROXIES) == "10.0.0.5"
    assert client_address("::ffff:10.0.0.5", "2001:db8::1", PROXIES) == "2001:db8::1"


def test_the_scheme_is_taken_from_a_trusted_proxy_only() -> None:
    assert forwarded_scheme("10.0.0.5", "https", PROXIES) == "https"
    assert forwarded_scheme("10.0.0.5", "http, https", PROXIES) == "https"
    assert forwarded_scheme("198.51.100.7", "https", PROXIES) is None
    assert forwarded_scheme("10.0.0.5", "gopher", PROXIES) is None
    assert forwarded_scheme("10.0.0.5", None, PROXIES) is None


def test_a_wrong_trusted_proxy_stops_start_up_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="COOPWATT_DASHBOARD_TRUSTED_PROXIES"):
        load_settings({"COOPWATT_DASHBOARD_TRUSTED_PROXIES": "10.0.0.5,proxy.example"})
    assert load_settings({"COOPWATT_DASHBOARD_TRUSTED_PROXIES": "10.0.0.5, 172.18.0.0/16"}
                         ).dashboard_trusted_proxies == ("10.0.0.5", "172.18.0.0/16")
    with pytest.raises(SettingsError, match="COOPWATT_DASHBOARD_LOGIN_FIRST_PAUSE_S"):
        load_settings({"COOPWATT_DASHBOARD_LOGIN_FIRST_PAUSE_S": "1000", "COOPWATT_DASHBOARD_LOGIN_WINDOW_S": "900"})


def test_secure_cookies_are_the_default_and_the_demo_turns_them_off() -> None:
    from dashboard.app import demo_settings

    assert load_settings({}).dashboard_cookie_secure is True
    assert demo_settings(load_settings({})).dashboard_cookie_secure is False


def test_login_pauses_double_after_the_free_failures_up_to_the_cap() -> None:
    rule = PauseRule(free_failures=5, first_pause_s=30, max_pause_s=900)
    assert [pause_after(rule, n) for n in range(4, 12)] == [0, 30, 60, 120, 240, 480, 900, 900]
    assert pause_after(rule, 10_000) == 900
    now = datetime(2026, 1, 1, tzinfo=UTC)
    # The pause runs from the last counted failure.
    assert wait_s(rule, 5, now - timedelta(seconds=10), now) == 20
    assert wait_s(rule, 5, now - timedelta(seconds=31), now) == 0
    assert wait_s(rule, 4, now, now) == 0


CALLBACKS = {
    "household-total.children": {
        "callback": object(), "inputs": [{"id": "household-kind", "property": "value"}],
        "state": [{"id": "household-unit", "property": "value"}],
    },
    '..{"alert":["MATCH"],"type":"alert-status"}.children...{"alert":["MATCH"],"type":"alert-ack"}.disabled..': {
        "callback": object(), "inputs": [{"id": '{"alert":["MATCH"],"type":"alert-ack"}', "property": "n_clicks"}],
        "state": [],
    },
    "..lang-fr-form.action...lang-en-form.action..": {"inputs": [], "state": []},  # client-side: no "callback"
}
GOOD = {
    "output": "household-total.children", "outputs": {"id": "household-total", "property": "children"},
    "inputs": [{"id": "household-kind", "property": "value", "value": "electricity"}],
    "state": [{"id": "household-unit", "property": "value", "value": "kWh"}],
    "changedPropIds": ["household-kind.value"],
}


def test_callback_requests_of_the_pages_pass() -> None:
    assert callback_request_problem(GOOD, CALLBACKS) is None
    match = {
        "output": next(key for key in CALLBACKS if "MATCH" in key),
        "outputs": [{"id": {"alert": 7, "type": "alert-status"}, "property": "children"},
                    {"id": {"alert": 7, "type": "alert-ack"}, "property": "disabled"}],
        "inputs": [{"id": {"alert": 7, "type": "alert-ack"}, "property": "n_clicks", "value": 1}],
        "changedPropIds": ['{"alert":7,"type":"alert-ack"}.n_clicks'],
    }
    assert callback_request_problem(match, CALLBACKS) is None


@pytest.mark.parametrize("body", [
    None, [], "x", 7, {}, {"output": 3},
    {**GOOD, "output": "nobody.children"},
    {**GOOD, "output": "..lang-fr-form.action...lang-en-form.action.."},
    {**GOOD, "outputs": "x"},
    {**GOOD, "inputs": "x"},
    {**GOOD, "inputs": []},
    {**GOOD, "inputs": [{"id": "household-kind"}]},
    {**GOOD, "inputs": [{"id": "other", "property": "value", "value": 1}]},
    {**GOOD, "inputs": [{"id": ["household-kind"], "property": "value"}]},
    {**GOOD, "state": {"id": "household-unit"}},
    {**GOOD, "changedPropIds": [1]},
    {**GOOD, "changedPropIds": "household-kind.value"},
])
def test_malformed_callback_requests_are_named(body: object) -> None:
    assert isinstance(callback_request_problem(body, CALLBACKS), str)


def test_the_log_bucket_lets_a_burst_through_then_counts_what_it_leaves_out() -> None:
    now = [0.0]
    bucket = LogBucket(burst=3, per_s=0.5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(6)] == [0, 0, 0, None, None, None]
    now[0] += 2.0  # one line's worth of tokens
    assert bucket.take() == 3  # it logs, after saying three were left out
    assert bucket.take() is None


def test_the_content_security_policy_allows_no_inline_script() -> None:
    policy = content_security_policy(["'sha256-abc='"])
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["script-src"] == ["'self'", "'sha256-abc='"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in directives["script-src"]
