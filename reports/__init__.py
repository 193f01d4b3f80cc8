"""Monthly letters to households and the residence's collective progress (issue 16).

Reads the store (consumption rollups, analytics results) like the dashboard does, writes letters,
their delivery state and the collective progress; nothing here is imported by analytics.
"""
