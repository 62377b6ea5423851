"""Start-up time of the ``botree`` command line against click, typer and rich (docs/cli.md).

Usage: python -m benchmarks.cli_startup [RUNS]   (the interpreter must have click, typer
and rich installed to measure them; missing libraries are skipped).

Every figure is the best wall time of RUNS (default 10) fresh interpreters.  The click
and typer rows run a generated command line of the same shape as ``botree``'s (16
verbs, 5 options each) and print its help; the ``ls`` rows import the library before
running the real ``botree ls`` on a small database, which is the least a port would cost.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from typing import List, Sequence

VERBS = 16
OPTIONS = 5


def best(command: Sequence[str], runs: int) -> float:
    """The best wall time of ``runs`` runs of ``command``, in milliseconds."""
    times: List[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def click_program() -> str:
    """A click command line shaped like botree's, printing its top-level help."""
    body = ["import click", "@click.group()", "def cli():", "    'botree'"]
    for v in range(VERBS):
        body.append(f"@cli.command('verb{v}')")
        body.append("@click.argument('db')")
        for o in range(OPTIONS):
            body.append(f"@click.option('--opt{o}', type=int, help='option {o}')")
        body.append(f"def verb{v}(db, {', '.join(f'opt{o}' for o in range(OPTIONS))}):")
        body.append("    pass")
    body.append("cli(['--help'])")
    return "\n".join(body)


def typer_program() -> str:
    """A typer command line shaped like botree's, printing its top-level help."""
    body = ["import typer", "from typing import Optional", "app = typer.Typer()"]
    for v in range(VERBS):
        body.append(f"@app.command('verb{v}')")
        params = ", ".join(f"opt{o}: Optional[int] = typer.Option(None, help='option {o}')" for o in range(OPTIONS))
        body.append(f"def verb{v}(db: str, {params}):")
        body.append("    pass")
    body.append("app(['--help'])")
    return "\n".join(body)


def main(argv: Sequence[str]) -> None:
    runs = int(argv[0]) if argv else 10
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "small.db")
        src = os.path.join(tmp, "org.csv")
        with open(src, "w") as f:
            f.write("id,parent,name\n1,,a\n2,1,b\n3,1,c\n4,2,d\n")
        subprocess.run([py, "-m", "botree", "import", src, db], check=True, stdout=subprocess.DEVNULL)
        ls = f"import sys; from botree.cli.main import main; sys.exit(main(['ls', {db!r}]))"
        rows = [
            ("python -c pass (the interpreter alone)", [py, "-c", "pass"]),
            ("botree --help (argparse, as is)", [py, "-m", "botree", "--help"]),
            ("botree ls small.db (argparse, as is)", [py, "-m", "botree", "ls", db]),
        ]
        have = {name: importlib.util.find_spec(name) is not None for name in ("click", "typer", "rich")}
        if have["click"]:
            rows.append(("import click", [py, "-c", "import click"]))
            rows.append(("click: help of a 16-verb CLI", [py, "-c", click_program()]))
            rows.append(("click imported + botree ls", [py, "-c", "import click; " + ls]))
        if have["typer"]:
            rows.append(("import typer", [py, "-c", "import typer"]))
            rows.append(("typer: help of a 16-verb CLI", [py, "-c", typer_program()]))
            rows.append(("typer imported + botree ls", [py, "-c", "import typer; " + ls]))
        if have["rich"]:
            rows.append(("import rich.progress", [py, "-c", "import rich.progress"]))
            rows.append(("import rich.tree + rich.console", [py, "-c", "import rich.tree, rich.console"]))
            rows.append(
                ("rich imported + botree ls", [py, "-c", "import rich.tree, rich.console; " + ls])
            )
        for label, command in rows:
            print(f"| {label} | {best(command, runs):.0f} ms |")


if __name__ == "__main__":
    main(sys.argv[1:])
