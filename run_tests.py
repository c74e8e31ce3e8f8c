"""Run the whole test suite: ``python run_tests.py [pytest arguments]``.

Creates or refreshes the project's virtualenv (``.venv``) on first use,
with the ``test`` extra (pytest, hypothesis, ruff, ...).
"""

import os
import sys

import bootstrap

if __name__ == "__main__":
    bootstrap.ensure_venv(bootstrap.TEST_EXTRAS)
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]])
