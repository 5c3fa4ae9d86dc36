"""Fake outside services (OpenRouter, Telegram, Discord) served over real sockets."""
