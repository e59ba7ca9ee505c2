"""ganviz: python main.py [--preset NAME] [--headless --steps N] ... (see --help)."""

import sys

if __name__ == "__main__":  # a spawned child process re-imports this file
    from ganviz.cli import main

    sys.exit(main())
