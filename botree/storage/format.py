"""The on-disk format's names: its version tag and the cell tables, shared by the codec and the SQL store.

Nothing here knows SQL or trees; changing a value here changes the format.
"""

FORMAT = "botree-1"  # stored in meta; a database of another format is refused on open
TABLES = ("blocks", "links", "nodes")  # one cell table per stored vector
FREE_KEPT = 256  # free ids kept per allocator in a version's state (older ones become holes)
