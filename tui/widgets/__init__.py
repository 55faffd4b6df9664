"""Small reusable widgets and renderables (no screens here)."""
