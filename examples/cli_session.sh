#!/usr/bin/env bash
# The main job as a command-line session on an embedded SQLite file:
# import a parent table (its id column becomes the key: nodes are named by their ids),
# look around, reorganise, read the history, edit and search, go back to an earlier
# version, sync with the next export of the same table, check the file, export.
# Usage: bash examples/cli_session.sh [DB]   (BOTREE: the botree command, default .venv/bin/botree)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
botree="${BOTREE:-.venv/bin/botree}"
db="${1:-$(mktemp -d)/org.db}"
say() { printf '\n$ botree %s\n' "$*"; $botree "$@"; }  # unquoted: BOTREE may be "python -m botree"

say import "$here/org.csv" "$db" --replace --message "initial import"
say ls "$db"
say query "$db" cyd --ancestors           # Cyd's chain of command, by key
say mv "$db" sales --under eng --index 0  # Sales moves into Engineering, first
say rm "$db" bob --message "Bob left"
say ls "$db" --max-depth 2
say query "$db" eng --size
say log "$db"
say diff "$db" 1 3
say ls "$db" --as-of 1                    # every version stays readable
say add "$db" --under eng --data '{"id": "eva", "name": "Eva", "role": "engineer"}'   # prints the new key
say set "$db" ann --field role=lead       # one field; --data replaces the whole value
say find "$db" --under eng --where role = engineer
say revert "$db" --to 3 -m "undo the hire"  # a new version equal to version 3; history kept

# Next week's export of the same table: Dee left, Eve joined, Sales is back under ACME,
# Ann's role changed. sync commits only those differences, matched by key.
next="$(mktemp -d)/org-next.csv"
cat > "$next" <<'CSV'
id,parent,name,role
acme,,ACME Corp,company
eng,acme,Engineering,department
ann,eng,Ann,lead engineer
sales,acme,Sales,department
cyd,sales,Cyd,account manager
eve,sales,Eve,account manager
CSV
say sync "$next" "$db" -m "weekly HR export"
say diff "$db" 6 7
say sync "$next" "$db"                    # nothing changed since: nothing committed
say verify "$db"
say export "$db" --format csv             # the file synced, byte for byte
say export "$db" --indent 1
