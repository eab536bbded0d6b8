"""The pure core: value objects and rules. No I/O, no clock, no global randomness."""
