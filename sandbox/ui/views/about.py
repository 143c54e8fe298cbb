"""About: what each box on the diagram is in a real deployment, and how to start the live lab."""

from pathlib import Path

import streamlit as st

from sandbox.engine import live_broker
from sandbox.present.broker_version import broker_note
from sandbox.present.diagram import HEALTH_COLOURS, HEALTH_WORDS

before, after = (Path(__file__).parent.parent / "about.md").read_text(encoding="utf-8").split("<!-- colours -->")
st.title("📮 About Post Office Lab")
st.markdown(before)
st.markdown("## Colours on the diagram")
st.markdown("\n".join(
    f"- <span style='display:inline-block;width:1.6em;height:1em;vertical-align:-0.1em;border-radius:4px;"
    f"background:{fill};border:2px solid {border}'></span> {HEALTH_WORDS[name]}"
    for name, (fill, border) in HEALTH_COLOURS.items()),
    unsafe_allow_html=True)
st.markdown(after)
reason, broker = live_broker()
if reason:
    st.warning(f"Live lab here: unavailable — {reason}", icon="🔌")
else:
    st.success(f"Live lab here: {broker} answers (the version its server properties report on connecting); the "
               "Scenarios page can run scenarios for real on it.", icon="🔌")
    st.caption(broker_note(broker))
