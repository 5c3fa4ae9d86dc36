"""``python -m tests.fakes.telegram --port N [--no-flood-limits]``"""

from .fake import main

if __name__ == "__main__":
    main()
