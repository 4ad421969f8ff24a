"""The local gateway chooses resources and evaluates policies as API Gateway does."""

from __future__ import annotations

from claw_local.gateway import _policy_allows, match_route
from claw_local.template import Route

ROUTES = [
    Route("Auth", "/api/v1/auth/login", "POST", authorized=False),
    Route("Auth", "/api/v1/auth/{proxy+}", "ANY", authorized=True),
    Route("Config", "/api/v1/configs/public", "GET", authorized=False),
    Route("Config", "/api/v1/configs/{proxy+}", "ANY", authorized=True),
    Route("Chat", "/api/v1/conversations/{id}", "GET", authorized=True),
]


def test_literal_resource_beats_greedy_proxy() -> None:
    match = match_route(ROUTES, "/api/v1/auth/login", "POST")
    assert match is not None and match.route.authorized is False


def test_method_is_chosen_within_the_resource_without_falling_back_to_the_proxy() -> None:
    # API Gateway picks the resource first: GET on a POST-only resource is not routed to {proxy+}.
    assert match_route(ROUTES, "/api/v1/auth/login", "GET") is None


def test_greedy_proxy_captures_the_rest_of_the_path() -> None:
    match = match_route(ROUTES, "/api/v1/configs/ai.pricing/history", "GET")
    assert match is not None
    assert match.route.path == "/api/v1/configs/{proxy+}"
    assert match.path_parameters == {"proxy": "ai.pricing/history"}


def test_path_parameter_is_extracted_and_unknown_paths_do_not_match() -> None:
    match = match_route(ROUTES, "/api/v1/conversations/abc", "GET")
    assert match is not None and match.path_parameters == {"id": "abc"}
    assert match_route(ROUTES, "/api/v1/conversations", "GET") is None
    assert match_route(ROUTES, "/api/v2/health", "GET") is None


def test_policy_with_wildcard_allows_other_routes_and_explicit_deny_wins() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/api/v1/conversations"
    allow_all = {
        "Statement": [
            {
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": "arn:aws:execute-api:us-east-1:123456789012:api/dev/*",
            }
        ]
    }
    assert _policy_allows(allow_all, arn)
    assert _policy_allows(allow_all, arn.replace("GET/api/v1/conversations", "POST/api/v1/configs/x"))
    deny = {"Statement": [*allow_all["Statement"], {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn}]}
    assert not _policy_allows(deny, arn)
    only_one = {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]}
    assert not _policy_allows(only_one, arn.replace("conversations", "usage"))
