"""Compliance reports built from the pytest plugin's results.json files.

model.py holds the data, load.py reads results.json into it, to_markdown.py and to_json.py
render it. Several results files (one per DUT) become side-by-side columns.
"""
