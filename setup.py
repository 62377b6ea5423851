"""Build script: the pure-Python package by default, or a build whose hot modules mypyc compiles.

``pip install .`` and ``pip install -e .`` install the pure-Python package (the default, always
tested).  ``BOTREE_COMPILE=1 pip install .`` compiles the modules of ``COMPILED`` with mypyc
(the build environment gets ``mypy``, which ships mypyc) and the machine's C compiler; when
either is missing or compiling fails, the build says why and installs the pure package instead
-- it never fails.  See docs/design.md, "Compiled build".

A compiled build is meant to be installed, not edited: an extension module beside its ``.py``
source is imported instead of it, so an edit would not be seen.  ``BOTREE_COMPILE=1 pip install
-e .`` therefore builds the extensions in place only on request (for a throwaway copy of the
tree, as ``.ci/run`` does), and every pure build removes the compiled modules an earlier
in-place build left in the source tree.
"""

import glob
import os
import sys
from typing import Any, List

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

# The modules compiled, chosen by measurement (docs/design.md, "Compiled build"): the order index
# and the node table, where every query and update spends its time.  Left interpreted: errors.py
# (exception classes cannot be native classes), the package __init__ facades, and the layers above
# core (their time goes into calls to core, and their public methods are where bad arguments are
# told apart, see tests/test_builds.py).
COMPILED = [
    "botree/nodetable/allocator.py",
    "botree/nodetable/attrindex.py",
    "botree/nodetable/fieldtree.py",
    "botree/nodetable/keyindex.py",
    "botree/nodetable/rows.py",
    "botree/nodetable/table.py",
    "botree/nodetable/vector.py",
    "botree/core/blocks.py",
    "botree/core/bulk.py",
    "botree/core/check.py",
    "botree/core/gapkeys.py",
    "botree/core/gcpause.py",
    "botree/core/index.py",
    "botree/core/maintenance.py",
    "botree/core/primitives.py",
    "botree/core/reader.py",
]


def say(message: str) -> None:
    """A line on stderr that pip shows with ``-v`` (and always when the build fails)."""
    print(f"botree setup: {message}", file=sys.stderr, flush=True)


def compile_requested() -> bool:
    return os.environ.get("BOTREE_COMPILE", "").strip().lower() in {"1", "true", "yes", "on"}


def remove_stale_extensions() -> None:
    """Delete compiled modules an in-place build left in the source tree: they would shadow the sources."""
    stale = glob.glob(os.path.join(HERE, "botree", "**", "*.so"), recursive=True)
    stale += glob.glob(os.path.join(HERE, "botree", "**", "*.pyd"), recursive=True)
    stale += glob.glob(os.path.join(HERE, "*__mypyc*.so")) + glob.glob(os.path.join(HERE, "*__mypyc*.pyd"))
    for path in stale:
        os.remove(path)
        say(f"removed the stale compiled module {os.path.relpath(path, HERE)} (a pure build)")


class OptionalBuildExt(build_ext):
    """build_ext that falls back to the pure package when the C compiler fails, never failing the install.

    The extensions share one library (mypyc's ``*__mypyc`` module): if any of them fails, the
    ones already built are removed too, so no half-compiled package is installed.
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CompileError, LinkError, a missing compiler or Python.h...
            for path in self.get_outputs():
                if os.path.exists(path):
                    os.remove(path)
            self.extensions = []
            say(f"compiling failed ({type(exc).__name__}: {exc}); installing the pure-Python package instead")


def extensions() -> List[Any]:
    """mypyc's extension modules, or [] (with the reason on stderr) for the pure package."""
    if not compile_requested():
        remove_stale_extensions()
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        say("BOTREE_COMPILE is set but mypyc (part of mypy) is not importable; installing the pure-Python package")
        return []
    cwd = os.getcwd()
    os.chdir(HERE)  # mypycify takes paths relative to the project and reads its [tool.mypy] configuration
    try:
        return list(mypycify(COMPILED, opt_level="3", debug_level="0"))
    except (Exception, SystemExit) as exc:  # mypyc reports type errors by SystemExit
        say(f"mypyc could not compile the modules ({type(exc).__name__}: {exc}); installing the pure-Python package")
        return []
    finally:
        os.chdir(cwd)


ext_modules = extensions()
if ext_modules:
    say(f"compiling {len(COMPILED)} modules with mypyc")
setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": OptionalBuildExt},
    # Under pip's build isolation the build environment needs mypy (which ships mypyc) for a compiled build.
    setup_requires=["mypy>=1.8"] if compile_requested() else [],
)
