"""The registration password policy."""

from __future__ import annotations

import pytest

from authorizer_app.models import password_problem


@pytest.mark.parametrize(
    "password",
    ["Correct-horse-9", "longer passphrase 42", "密码很长的一句话啊1", "ABCDEFGHIJ1k"],
)
def test_acceptable_passwords(password: str) -> None:
    assert password_problem(password, "someone@example.com") is None


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("Short-1", None),
        ("alllowercaseonly", None),
        ("1234567890123", None),
        ("password123", None),
        ("abababababab1", None),
        ("x" * 129 + "A1", None),
        ("Someone.Else@Example.com", "someone.else@example.com"),
        ("someone.else", "Someone.Else@example.com"),
    ],
)
def test_unacceptable_passwords_and_the_reason_never_repeats_them(password: str, email: str | None) -> None:
    problem = password_problem(password, email)
    assert problem is not None and password not in problem
