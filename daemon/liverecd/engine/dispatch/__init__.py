"""Sending: orders go through one deadline-first dispatcher (`dispatcher`) with a queue per
stream lane (`queue`), paced by the account's limiter (`timing`), starts released early to land
by their instant (`release`); each answer is heard and judged (`answers`), and every order
settles (`orders`)."""
