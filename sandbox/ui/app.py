"""The sandbox's front door: `post-office-lab open` serves this file of the installed package with Streamlit."""

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Post Office Lab", page_icon="📮", layout="wide")
st.html(f"<style>{(Path(__file__).parent / 'page.css').read_text(encoding='utf-8')}</style>")
page = st.navigation([
    st.Page("views/playground.py", title="Playground", icon="🧪", default=True),
    st.Page("views/scenarios.py", title="Scenarios", icon="🎬"),
    st.Page("views/lessons.py", title="Lessons", icon="📚"),
    st.Page("views/challenges.py", title="Challenges", icon="🧩"),
    st.Page("views/interview.py", title="Interview", icon="🎤"),
    st.Page("views/about.py", title="About", icon="📮"),
])
page.run()
