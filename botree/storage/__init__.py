"""Bytes and SQL: the format names, the codec, the SQL store and its dialects, lazy leaves."""
