"""``python -m tests.fakes.discord --port N [--no-rate-limits] [--no-message-content]``"""

from .fake import main

if __name__ == "__main__":
    main()
