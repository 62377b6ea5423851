"""The node-level API: queries, the update registry, Tree and its Transaction, Cursor, diff, render."""
