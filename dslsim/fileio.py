"""File input, output and identity: bounded reads of input files (a regular file no larger than its kind allows, so
a symlink to an endless device or a mistaken multi-GB file is refused before it is read), atomic writes (beside
the target, then a rename, so nothing is ever half-written) and a file's sha256, read in blocks."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterator

from dslsim.errors import DslsimError


def check_input_file(path: str | Path, max_bytes: int, what: str) -> int:
    """The size of input ``path`` in bytes, once it is known to be a regular, non-empty file of at most
    ``max_bytes``; otherwise an error naming the file and what was expected (``what``: 'a profile (YAML)')."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DslsimError(f"{path}: no such file; expected {what}.") from None
    except OSError as exc:
        raise DslsimError(f"{path}: cannot be read ({exc.strerror}); expected {what}.") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe or a device)"
        raise DslsimError(f"{path}: {kind}; expected {what}.")
    if info.st_size > max_bytes:
        raise DslsimError(f"{path}: {info.st_size:,} bytes; {what} is read only up to {max_bytes:,} bytes.")
    if info.st_size == 0:
        raise DslsimError(f"{path}: empty; expected {what}.")
    return info.st_size


def read_input_bytes(path: str | Path, max_bytes: int, what: str) -> bytes:
    """The bytes of input ``path`` after :func:`check_input_file`, reading no more than ``max_bytes`` even if the
    file grows meanwhile."""
    check_input_file(path, max_bytes, what)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DslsimError(f"{path}: cannot be read ({exc.strerror}); expected {what}.") from None
    if len(data) > max_bytes:
        raise DslsimError(f"{path}: more than {max_bytes:,} bytes; {what} is read only up to that.")
    return data


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
    # The name is chosen before the file exists, so an interrupt at any point after it is made (even inside the
    # call that makes it) still finds and removes it.
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, target)
    except BaseException:
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
