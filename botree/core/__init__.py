"""The order index: blocks, gap keys, reading, maintenance, the three primitives, bulk build, check."""
