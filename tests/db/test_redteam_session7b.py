"""Red-team session 7b: bad input to the branch API and damage read through the new refresh path.

Each test failed on the code it was written against; see the commit that fixed it.
"""

from __future__ import annotations

import pytest

from botree import Database
from botree.errors import InvalidArgument

_SURROGATE = "b\ud800"  # a lone surrogate: no UTF-8 encoding, so no stored name can hold it


def test_a_branch_name_that_is_not_valid_unicode_is_invalid_argument_and_changes_nothing(target: str) -> None:
    """``branch`` with a lone surrogate in the name raised CorruptDatabase on SQLite (bad input reported
    as damage) and a raw UnicodeEncodeError on PostgreSQL.  Commit messages already refuse such text
    (``check_message``): branch names must too, before anything is stored."""
    with Database(target) as db:
        with db.transaction() as tx:
            tx.insert_root("r")
        with pytest.raises(InvalidArgument):
            db.branch(_SURROGATE)
        assert db.branches() == {"main": 1} and db.version == 1
    with Database(target) as again:
        assert again.branches() == {"main": 1} and again.version == 1
        again.verify()
