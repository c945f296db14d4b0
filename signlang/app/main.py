"""The script Streamlit runs (``signlang app`` starts it): a page picker and the page.

The experiments folder comes from the command line after ``--`` (``--root DIR``), or from the
session state (the tests set ``root``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

from signlang.app import pages

PAGES = {"Runs": pages.runs, "Clips": pages.clips, "Predict": pages.predict}


def experiments_root() -> Path:
    if "root" not in st.session_state:
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--root", default="experiments")
        st.session_state["root"] = parser.parse_known_args(sys.argv[1:])[0].root
    return Path(st.session_state["root"])


def main() -> None:
    st.set_page_config(page_title="signlang", layout="wide")
    root = experiments_root()
    page = st.sidebar.radio("page", list(PAGES), key="page")
    st.sidebar.caption(f"experiments: {root.resolve()}")
    PAGES[page](root)


# Streamlit runs this file as __main__; a worker process that multiprocessing spawns from the app
# (video extraction) imports it again as __mp_main__, and must not draw the page there.
if __name__ == "__main__":
    main()
