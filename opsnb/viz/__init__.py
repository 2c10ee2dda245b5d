"""Plotly figure builders shared by notebooks and dashboards (``opsnb.viz.figures``)."""
