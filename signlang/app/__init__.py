"""The local web app (Streamlit) for runs, clips and predictions; ``signlang app`` starts it.

``logic.py`` computes what is shown, without Streamlit; ``pages.py`` lays it out; ``main.py`` is the
script Streamlit runs; the launcher is ``signlang/commands/app.py``.
"""
