"""Tests of the fake Discord, driving the real discord.py client over REST and the gateway."""
