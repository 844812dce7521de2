"""The secret registry: raw and URL-encoded forms, nested outputs, short values ignored."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from liverecd import redaction

TOKEN = "CAIS+RegistryUnitToken/Only7xQ=="


def test_every_form_of_a_registered_secret_is_scrubbed_at_any_depth() -> None:
    redaction.register(TOKEN)
    once = quote(TOKEN, safe="~")
    for text in (TOKEN, once, quote(once, safe="~"), quote_plus(TOKEN)):
        assert redaction.scrub(f"a {text} b") == "a *** b"
    tree = {"last_error": f"x {TOKEN}", "list": [(f"{once}",)], TOKEN: 1}
    assert redaction.scrub_tree(tree) == {"last_error": "x ***", "list": [["***"]], "***": 1}


def test_short_values_are_not_registered() -> None:
    redaction.register("abc")
    assert redaction.scrub("abc abcd") == "abc abcd"
