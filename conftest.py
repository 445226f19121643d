"""Root conftest: load hilrig's plugin even when hilrig is not installed (a plain checkout)."""

pytest_plugins = ["hilrig.plugin"]
