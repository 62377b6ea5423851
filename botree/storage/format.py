"""The on-disk format's names: its version tag and the cell tables, shared by the codec and the SQL store.

Nothing here knows SQL or trees; changing a value here changes the format.
"""

FORMAT = "botree-3"  # stored in meta; a database of another format is refused on open
# botree-3 = botree-2 + patch cells (a cell may store only the slots its leaf changed since a
# whole cell of the same leaf, its base; cell tables have a ``base`` column for compaction).
# A botree-2 database opens and is written as it is, with whole cells only (its cell tables
# have no ``base`` column); ``botree upgrade`` adds the column and lets it take patches.
WHOLE_CELLS_ONLY = {"botree-2"}
# Older formats this library can upgrade in place (``botree upgrade``), with the release that wrote them.
UPGRADABLE = {"botree-1": "botree 0.1"}
TABLES = ("blocks", "links", "nodes")  # one cell table per stored vector, in every database
# Cell tables a database gets when it first needs them (a keyed tree's key index, ``keys``;
# the field index's tree nodes, ``fields``, for a tree with indexed fields):
# a commit that writes cells of one creates its table in the same transaction, so a
# botree-2 database written before keys existed still opens, unchanged, and read-only
# opens never change a schema.  A version's state names these vectors only when it has them.
OPTIONAL_TABLES = ("keys", "fields")
FREE_KEPT = 256  # free ids kept per allocator in a version's state (older ones become holes)
LEAVES_PER_GROUP = 64  # leaves one manifest cell lists; a group's manifest is stored as leaf -(group + 1)
