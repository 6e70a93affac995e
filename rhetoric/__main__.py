"""``python -m rhetoric``."""

from .cli import main

main()
