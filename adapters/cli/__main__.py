"""`python -m adapters.cli`: the same as the `casegrid` console script."""

from adapters.cli.app import main

if __name__ == "__main__":
    main()
