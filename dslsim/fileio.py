"""File output and identity: atomic writes (beside the target, then a rename, so nothing is ever half-written) and
a file's sha256, read in blocks."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from dslsim.errors import DslsimError


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target`` atomically.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> target.read_text()
    'a,b\\n1,2\\n'
    >>> sorted(p.name for p in target.parent.iterdir())          # no temporary file left behind
    ['out.csv']
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DslsimError(f"{target}: cannot create the folder {target.parent}: {exc.strerror}.") from None
    tmp: Path | None = None
    try:
        # Inside the try, so an interrupt right after the temporary file is made still removes it.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(tmp_name)
        os.close(fd)
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(target: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``target`` in one step."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write text to ``target`` atomically."""
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def hash_file(path: str | Path, digest: "hashlib._Hash | None" = None) -> "hashlib._Hash":
    """Feed the bytes of ``path`` into ``digest`` (a new sha256 by default) in 1 MiB blocks and return it, so a
    large trace or checkpoint is never read into memory at once."""
    digest = digest if digest is not None else hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, as hex.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    return hash_file(path).hexdigest()
