"""``signlang app``: a local web app (Streamlit) for runs, clips and predictions.

``logic.py`` computes what is shown, without Streamlit; ``pages.py`` lays it out; ``main.py`` is the
script Streamlit runs; ``launch.py`` is the command.
"""
