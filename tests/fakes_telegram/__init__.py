"""Tests of the fake Telegram Bot API, driving the real python-telegram-bot over HTTP."""
