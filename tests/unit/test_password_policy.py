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
        # Containing the address or its name part is as guessable as being it.
        ("Alice2024-spring", "alice@example.com"),
        ("my.alice@example.com!", "alice@example.com"),
    ],
)
def test_unacceptable_passwords_and_the_reason_never_repeats_them(password: str, email: str | None) -> None:
    problem = password_problem(password, email)
    assert problem is not None and password not in problem


def test_a_short_name_part_does_not_forbid_every_password_with_those_letters() -> None:
    assert password_problem("Jo-Kernel-2024", "jo@example.com") is None
