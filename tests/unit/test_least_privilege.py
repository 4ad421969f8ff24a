"""Least privilege: every IAM statement in the template names what it touches.

A wildcard action (``s3:*``, ``*``) or resource (``*``, ``arn:...:*``) in a function's policy
fails this test unless the line (or the one above it) carries a ``# justified: <why>`` comment.
"""

from __future__ import annotations

import re
from typing import Any

from claw_local.template import TEMPLATE_PATH, load_template


def _statements(policies: Any) -> list[dict[str, Any]]:
    found = []
    for policy in policies or []:
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def find_wildcards(template: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(function, Sid, "action"|"resource") of every wildcard in a function's inline policies."""
    offenders = []
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for stmt in _statements(res["Properties"].get("Policies")):
            actions = stmt.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            resources = stmt.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            if any(isinstance(a, str) and (a == "*" or a.endswith(":*")) for a in actions):
                offenders.append((name, stmt.get("Sid"), "action"))
            if any(r == "*" for r in resources):
                offenders.append((name, stmt.get("Sid"), "resource"))
    return offenders


def test_the_wildcard_check_catches_a_bare_wildcard() -> None:
    bad = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Policies": [{"Statement": [{"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
                },
            }
        }
    }
    assert find_wildcards(bad) == [("Fn", "All", "action"), ("Fn", "All", "resource")]


def test_no_function_policy_uses_a_bare_wildcard_action_or_resource() -> None:
    offenders = find_wildcards(load_template())
    justified = _justified_lines()
    unjustified = [o for o in offenders if (o[0], o[1]) not in justified]
    assert not unjustified, f"wildcards without a '# justified:' comment: {unjustified}"


def _justified_lines() -> set[tuple[str, Any]]:
    """(function, Sid) pairs whose wildcard line carries a justification comment."""
    text = TEMPLATE_PATH.read_text().splitlines()
    result: set[tuple[str, Any]] = set()
    function = None
    sid = None
    for i, line in enumerate(text):
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            function, sid = m.group(1), None
        m = re.search(r"Sid:\s*([A-Za-z0-9]+)", line)
        if m:
            sid = m.group(1)
        if "*" in line and ("# justified:" in line or (i and "# justified:" in text[i - 1])):
            result.add((function, sid))
    return result


def test_every_function_with_secrets_or_s3_access_is_scoped_to_named_resources() -> None:
    template = load_template()
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for policy in res["Properties"].get("Policies") or []:
            if isinstance(policy, dict):
                for key, value in policy.items():
                    if key.endswith("Policy") and isinstance(value, dict):
                        # SAM policy templates must be given a concrete resource.
                        assert value, f"{name}: {key} without a resource"


def _s3_actions(policies: Any) -> set[str]:
    actions: set[str] = set()
    for stmt in _statements(policies):
        found = stmt.get("Action")
        for action in found if isinstance(found, list) else [found]:
            if isinstance(action, str) and action.startswith("s3:"):
                actions.add(action)
    return actions


def test_only_the_knowledge_and_ingest_functions_touch_the_documents_bucket() -> None:
    # Given the deployable template
    template = load_template()
    # When we collect every function's S3 rights
    rights = {
        name: _s3_actions(res["Properties"].get("Policies"))
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    # Then only knowledge (uploads, reindex, deletes), ingest and OCR (reads) have any; ingest and OCR only read
    touching = {name for name, actions in rights.items() if actions}
    assert touching == {"KnowledgeFunction", "IngestFunction", "OcrFunction"}
    for reader in ("IngestFunction", "OcrFunction"):
        assert not {a for a in rights[reader] if a.startswith(("s3:Put", "s3:Delete"))}
    assert "s3:PutObject" in rights["KnowledgeFunction"]
