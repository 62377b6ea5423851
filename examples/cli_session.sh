#!/usr/bin/env bash
# The main job as a command-line session on an embedded SQLite file:
# import a parent table, look around, reorganise, read the history, edit and search,
# go back to an earlier version, check the file, export.
# Usage: bash examples/cli_session.sh [DB]   (BOTREE: the botree command, default .venv/bin/botree)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
botree="${BOTREE:-.venv/bin/botree}"
db="${1:-$(mktemp -d)/org.db}"
say() { printf '\n$ botree %s\n' "$*"; $botree "$@"; }  # unquoted: BOTREE may be "python -m botree"

say import "$here/org.csv" "$db" --replace --message "initial import"
say ls "$db"
say query "$db" 5 --ancestors             # Cyd's chain of command
say mv "$db" 4 --under 1 --index 0        # Sales moves into Engineering, first
say rm "$db" 3 --message "Bob left"
say ls "$db" --max-depth 2
say query "$db" 1 --size
say log "$db"
say diff "$db" 1 3
say ls "$db" --as-of 1                    # every version stays readable
say add "$db" --under 1 --data '{"name": "Eva", "role": "engineer"}'   # prints the new node's id
say set "$db" 2 --field role=lead         # one field; --data replaces the whole value
say find "$db" --under 1 --where role = engineer
say revert "$db" --to 3 -m "undo the hire"  # a new version equal to version 3; history kept
say verify "$db"
say export "$db" --format csv
say export "$db" --indent 1
