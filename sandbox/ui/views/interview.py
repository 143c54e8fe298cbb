"""Interview: coming with the lessons issue."""

import streamlit as st

st.title("Interview")
st.info("The interview content is not written yet: it arrives with the lessons issue. Until then, the Playground and "
        "the Scenarios pages show every behaviour the interview will teach.")
