"""@type validation: each type and option, valid and invalid values."""

from __future__ import annotations

import pytest

from devenv.envfile.schema import parse_schema


def check(type_decl: str, value: str) -> str | None:
    s = parse_schema(f"# @defaultSensitive=false\n# ---\n# @type={type_decl}\nA=\n")
    return s.items["A"].type.validate(value)


@pytest.mark.parametrize(
    ("decl", "good", "bad", "fragment"),
    [
        ("string", "anything", None, ""),
        ("string(minLength=3)", "abc", "ab", "at least 3 characters"),
        ("string(maxLength=3)", "abc", "abcd", "at most 3 characters"),
        ("string(isLength=2)", "ab", "abc", "exactly 2 characters"),
        ("string(startsWith=sk_)", "sk_live", "pk_live", "must start with 'sk_'"),
        ("string(endsWith=\".com\")", "a.com", "a.org", "must end with '.com'"),
        ("string(matches=/^[a-z]+$/i)", "AbC", "ab1", "must match"),
        ('string(matches="^\\d{3}$")', "123", "12a", "must match"),
        ("number", "-1.5e3", "12abc", "is not a number"),
        ("number", ".5", "inf", "is not a number"),
        ("number(isInt=true)", "42", "4.2", "whole number"),
        ("number(min=1, max=10)", "10", "11", "at most 10"),
        ("number(min=1)", "1", "0", "at least 1"),
        ("number(isDivisibleBy=0.5)", "2.5", "2.2", "divisible by 0.5"),
        ("port", "65535", "65536", "not a port number"),
        ("port", "0", "80.5", "not a port number"),
        ("port(min=1024)", "8080", "80", "at least 1024"),
        ("boolean", "Yes", "maybe", "not a boolean"),
        ("boolean", "0", "2", "not a boolean"),
        ("url", "https://example.com/x?y=1", "example.com", "not a URL"),
        ("url", "http://[::1]:8080", "http://host:99999", "invalid port"),
        ("url", "redis://127.0.0.1:6379/0", "http://a b.com", "not a URL"),
        ("url(allowedProtocols=[postgres, postgresql])", "postgresql://u:p@h/db",
         "mysql://u:p@h/db", "one of the schemes postgres, postgresql"),
        ("url(allowedProtocols=https)", "https://x.io", "http://x.io", "schemes https"),
        ("url(allowedDomains=[localhost, \"api.example.com:443\"])", "http://localhost:3000",
         "https://api.example.com", "must point at one of"),
        ("url(noTrailingSlash=true)", "https://a.io/", "https://a.io/v1/", "must not end with '/'"),
        ("url(prependHttps=true)", "example.com/path", "exa mple.com", "not a URL"),
        ("email", "dev@example.com", "dev@localhost", "not an email address"),
        ("enum(dev, prod)", "dev", "Dev", "must be one of dev, prod"),
        ("enum(1, 2)", "2", "3", "must be one of 1, 2"),
    ],
)  # fmt: skip
def test_types(decl: str, good: str, bad: str | None, fragment: str) -> None:
    assert check(decl, good) is None
    if bad is not None:
        err = check(decl, bad)
        assert err is not None and fragment in err
        assert bad not in err  # the value is never in the message (it may be a secret)


def test_an_untyped_item_takes_no_type_from_its_default() -> None:
    s = parse_schema('A=1\nB=true\nC="1"\nD=007\nE=1.50\nF=text\nCOUNT=10\n')
    assert {i.type.name for i in s.items.values()} == {"string"}
    assert all(i.type.inferred for i in s.items.values())
    # so any value is fine for it, as for any string
    assert s.items["COUNT"].type.validate("ten") is None
