"""Start the Reality server: ``python run_server.py`` is ``reality serve``.

Creates or refreshes the project's virtualenv (``.venv``) on first use,
with what the server needs (not the test tools: ``run_tests.py`` adds them).
"""

import sys

import bootstrap

if __name__ == "__main__":
    bootstrap.ensure_venv()
    from reality.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
