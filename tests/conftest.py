"""Test-session settings."""

import os

# in-process CLI calls (``jaxdse.cli.main``) would point JAX's persistent
# compilation cache at the user's cache folder; the tests that exercise the
# cache give their own folder
os.environ.setdefault("JAXDSE_COMPILE_CACHE", "off")
