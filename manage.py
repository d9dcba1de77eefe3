#!/usr/bin/env python
"""Django's command line for a checkout; an installed newsroom has `python -m newsroom`."""

from newsroom.__main__ import main

if __name__ == "__main__":
    main()
