"""coopwatt."""
