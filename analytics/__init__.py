"""analytics: coopwatt's pure analytics core (pandas/numpy, no database, no I/O) and, on top, its scheduled job.

Core modules, each with its frame contract at the top:

- ``sufficiency``  — does a dwelling's daily data qualify? coded bilingual reasons with evidence
- ``degree_days``  — HDD/CDD, daily mean °C per local day, a smoothed normal year
- ``baseline``     — ``DailyBaselineModel`` (CalTRACK-style, vectorised grid search) and ``HourOfWeekProfile``
- ``metrics``      — CV(RMSE), NMBE and ASHRAE Guideline 14 limits
- ``savings``      — avoided energy after an intervention, with an uncertainty band
- ``anomalies``    — detectors returning ``Anomaly`` records (kind, severity, start, end, evidence)
- ``suggestions``  — savings suggestions with kWh/year and €/year from the tariffs passed in
- ``comparison``   — similar-home groups with k-anonymity
- ``ranking``      — high consumers for advisers
- ``errors``       — ``AnalyticsError`` and its subclasses; ``synthetic`` — seeded test data
"""
