"""Text from a scenario file, shown as Markdown that makes the learner's browser fetch nothing.

Anyone can upload a scenario, and Markdown's images (`![alt](address)` and `![alt][ref]`) would have every
browser that shows it request the address. Escaping the image's bracket leaves the text as written, links and
emphasis intact, and draws no image. Raw HTML needs no care: Streamlit shows it as text unless told otherwise.
"""

import re

_IMAGE_OPENING = re.compile(r"!\[")


def inert_markdown(text: str) -> str:
    """`text` with every image opening `![` escaped, so it renders as the characters themselves."""
    return _IMAGE_OPENING.sub(r"!\\[", text)
