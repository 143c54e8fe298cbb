"""The Streamlit sandbox: app.py routes to the pages in views/; pages only call into the package."""
