"""Changes other than deploys: configuration changes, feature-flag flips, maintenance toggles (``ops.changes``)."""
