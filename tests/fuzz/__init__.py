"""Coverage-guided fuzz targets (atheris) and their regression corpus."""
