"""The pure rules of password recovery: no I/O, no clock, no randomness of their own."""
