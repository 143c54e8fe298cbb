"""Lessons: coming with the lessons issue."""

import streamlit as st

st.title("Lessons")
st.info("The lessons content is not written yet: it arrives with the lessons issue. Until then, the Playground and "
        "the Scenarios pages show every behaviour the lessons will teach.")
