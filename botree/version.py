"""The package version, read by the facade, the CLI and the build (pyproject)."""

VERSION = "0.1.0"
