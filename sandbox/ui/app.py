"""The sandbox's front door: `streamlit run sandbox/ui/app.py` (or `./dev open`)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # streamlit puts this file's folder on the path, not the project's
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Post Office Lab", page_icon="📮", layout="wide")
page = st.navigation([
    st.Page("views/playground.py", title="Playground", icon="🧪", default=True),
    st.Page("views/scenarios.py", title="Scenarios", icon="🎬"),
    st.Page("views/lessons.py", title="Lessons", icon="📚"),
    st.Page("views/challenges.py", title="Challenges", icon="🧩"),
    st.Page("views/interview.py", title="Interview", icon="🎤"),
    st.Page("views/about.py", title="About", icon="📮"),
])
page.run()
