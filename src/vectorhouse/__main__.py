"""``python -m vectorhouse`` runs the command line."""

from vectorhouse.cli import main

if __name__ == "__main__":
    main()
