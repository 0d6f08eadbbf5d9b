"""Compliance reports built from the pytest plugin's results.json files.

model.py holds the data, load.py reads results.json into it; to_html.py (one self-contained
file), to_markdown.py (CI job summary) and to_json.py render it. catalog.py reads the
requirement catalog (conformance/requirements/), whose untested entries the HTML report shows.
Several results files (one per DUT) become side-by-side columns.
"""
