"""Uploaded text drawn as Markdown: images become their own characters, everything else is left as written."""

import pytest

from sandbox.present.markdown import inert_markdown


@pytest.mark.parametrize("text", ["![x](http://example.invalid/a.png)", "a ![x][ref]\n\n[ref]: http://example.invalid/b",
                                  "![](https://example.invalid/c.png 'title')"])
def test_an_image_is_escaped_so_no_address_is_fetched(text):
    assert "![" not in inert_markdown(text)
    assert inert_markdown(text).replace("!\\[", "![") == text


def test_links_emphasis_and_a_plain_exclamation_are_untouched():
    text = "**wow!** see [the docs](https://www.rabbitmq.com/docs) [sic]"
    assert inert_markdown(text) == text
