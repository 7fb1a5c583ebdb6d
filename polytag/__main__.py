"""``python -m polytag``: the same as the ``polytag`` command."""

from polytag.cli.main import main

if __name__ == "__main__":
    main()
