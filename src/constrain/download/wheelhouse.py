"""Fill a wheelhouse directory with files, each once, resumably, sha256-checked, never half visible.

A file appears under its final name only when it is complete and its hash checked. Until then it
is ``<dir>/.partial/<filename>.part``, outside the names pip's ``--find-links`` or a static index
lists. A killed run leaves the ``.part`` file; the next run asks for the rest with an HTTP
``Range`` header, appends it, and checks the hash of the whole (a resume that does not check out
is thrown away and fetched again from the start, once). A resume is only tried when a sha256
is known to check the whole against (from the index or the previous manifest), and its answer
must be a 206 whose ``Content-Range`` starts at the bytes held, ends at the file's last byte and
gives the size the index listed; anything else is fetched again from byte 0. Every download's
final size is checked against the index's. Files already present are re-hashed
against the sha256 the index gives and the one the previous manifest recorded; an altered file
is refused, never silently replaced. A copy already in constrain's cache is used instead of the
network.

One run at a time fills a wheelhouse: :func:`locked` holds ``<dir>/.constrain-download.lock``
(``fcntl.flock``, released by the kernel if the process dies) while files are fetched and the
outputs written, so parallel runs into one directory wait for each other instead of racing over
the same ``.part`` files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..cache.store import Cache
from ..errors import ConstrainError, HashMismatch, NetworkError, redact_url
from ..index.files import cached_path
from ..index.transport.client import HttpClient
from ..locks import wait_exclusive
from ..models import DistFile
from ..reporting import NULL_REPORTER, Reporter
from .manifest import sha256_file

PARTIAL_DIR = ".partial"
LOCK_NAME = ".constrain-download.lock"
LOCK_TIMEOUT_ENV = "CONSTRAIN_DOWNLOAD_LOCK_TIMEOUT"
_IDENTITY = {"Accept-Encoding": "identity"}
_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


@contextlib.contextmanager
def locked(root: Path, *, timeout: float | None = None,
           on_wait: Callable[[str], None] = lambda message: None) -> Iterator[None]:
    """Hold the wheelhouse ``root``'s lock (created with the directory when missing). A second
    holder waits up to ``timeout`` seconds (default ``$CONSTRAIN_DOWNLOAD_LOCK_TIMEOUT`` or 600),
    telling ``on_wait`` once, then raises :class:`ConstrainError` naming the lock file."""
    if timeout is None:
        timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, "600"))
    path = Path(root) / LOCK_NAME
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+b")  # noqa: SIM115 -- held for the block
    except OSError as exc:
        raise ConstrainError(f"cannot write to the wheelhouse {root}: {exc.strerror or exc}",
                             hint="check the permissions of --dest, or choose another") from None
    try:
        if not wait_exclusive(fh, timeout,
                              f"waiting for another constrain download into {root} to finish",
                              on_wait):
            raise ConstrainError(
                f"another constrain download into {root} is running (it holds {path})",
                hint=f"wait for it to finish and run this command again, or give "
                f"--dest another directory (waited {timeout:g} s; "
                f"{LOCK_TIMEOUT_ENV} sets how long)",
            )
        yield
    finally:
        fh.close()


def resumed_total(content_range: str | None, start: int, size: int | None) -> int | None:
    """The file's total size when a 206's ``Content-Range`` continues a file held up to
    ``start`` bytes to its end (``bytes start-(total-1)/total``, ``total`` being the listed
    ``size`` when known); ``None`` when it does not."""
    m = _CONTENT_RANGE.match(content_range or "")
    if m is None or m.group(3) == "*":
        return None
    first, last, total = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if first != start or last != total - 1 or (size is not None and total != size):
        return None
    return total


@dataclass(frozen=True)
class Fetched:
    """What happened to one file: ``how`` is ``present`` (already there, hash checked),
    ``cache`` (copied from constrain's cache), ``downloaded`` or ``resumed``."""

    file: DistFile
    path: Path
    sha256: str
    size: int
    how: str
    bytes_transferred: int = 0


@dataclass
class FetchReport:
    """Every file's :class:`Fetched`, by filename, and the bytes that crossed the network."""

    files: dict[str, Fetched] = field(default_factory=dict)

    @property
    def new(self) -> list[Fetched]:
        return [f for f in self.files.values() if f.how != "present"]

    @property
    def bytes_transferred(self) -> int:
        return sum(f.bytes_transferred for f in self.files.values())


class Stopped(Exception):
    """A download ended early because the run was interrupted (its ``.part`` file stays)."""


class Wheelhouse:
    """The files of one wheelhouse directory ``root``. ``known`` maps filenames to the sha256
    a previous manifest recorded (tamper checks for files the index gives no hash for)."""

    def __init__(
        self,
        root: Path,
        client: HttpClient,
        cache: Cache | None,
        *,
        reporter: Reporter = NULL_REPORTER,
        known: Mapping[str, str] | None = None,
        workers: int = 8,
    ) -> None:
        self.root = Path(root)
        self.partial = self.root / PARTIAL_DIR
        self.client = client
        self.cache = cache
        self.reporter = reporter
        self.known = dict(known or {})
        self.workers = max(1, workers)
        self._stop = threading.Event()  # set when the run is interrupted

    # ------------------------------------------------------------------ checks
    def check_present(self, files: Sequence[DistFile]) -> dict[str, Fetched]:
        """Hash every file of ``files`` already in the wheelhouse. Raises one
        :class:`HashMismatch` naming every altered file; returns the good ones by name."""
        present = [f for f in files if (self.root / f.filename).is_file()]
        good: dict[str, Fetched] = {}
        bad: list[str] = []
        with ThreadPoolExecutor(max_workers=min(self.workers, max(1, len(present)))) as pool:
            digests = list(pool.map(lambda f: sha256_file(self.root / f.filename), present))
        for f, actual in zip(present, digests, strict=True):
            expected = {d.lower() for d in (f.sha256, self.known.get(f.filename)) if d}
            if (expected and actual not in expected) or len(expected) > 1:
                bad.append(
                    f"{f.filename}: expected sha256:{sorted(expected)[0]}, found sha256:{actual}"
                )
                continue
            path = self.root / f.filename
            good[f.filename] = Fetched(f, path, actual, path.stat().st_size, "present")
        if bad:
            raise HashMismatch(
                f"{len(bad)} file{'s' if len(bad) != 1 else ''} in the wheelhouse "
                f"{self.root}",
                expected="the sha256 the index and the manifest give",
                actual="different content",
                details=bad,
                hint="a wheelhouse file was altered after it was downloaded; delete the files "
                "named above and rerun to fetch the originals (and have them vetted again)",
            )
        return good

    # ------------------------------------------------------------------ fetching
    def fetch(
        self,
        files: Sequence[DistFile],
        *,
        on_file: Callable[[Fetched], None] | None = None,
    ) -> FetchReport:
        """Make every file of ``files`` present (see the module docstring). Files are fetched
        in parallel over the shared client; the first failure is raised after the others
        finish, so every completed file stays."""
        self.root.mkdir(parents=True, exist_ok=True)
        report = FetchReport()
        report.files.update(self.check_present(files))
        missing = [f for f in files if f.filename not in report.files]
        if not missing:
            self.remove_partials()
            return report
        self.partial.mkdir(exist_ok=True)
        total = sum(self._expected_size(f) for f in missing)
        self.reporter.start("files", total=len(missing), unit="files")
        self.reporter.start("bytes", total=total or None, unit="bytes")
        errors: list[BaseException] = []
        lock = threading.Lock()

        def one(f: DistFile) -> None:
            try:
                got = self._fetch_one(f)
            except BaseException as exc:  # noqa: BLE001 -- raised once all threads are done
                if isinstance(exc, OSError):  # writing into the wheelhouse (a full disk)
                    exc = self._write_error(f, exc)
                with lock:
                    errors.append(exc)
                return
            with lock:
                report.files[f.filename] = got
            self.reporter.advance("files")
            if on_file is not None:
                on_file(got)

        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(missing)))
        try:
            # biggest first: the long downloads start early and overlap the small ones
            list(pool.map(one, sorted(missing, key=lambda f: -(f.size or 0))))
        except BaseException:  # Ctrl-C: downloads under way stop at their next piece, their
            self._stop.set()   # .part files kept for a resume; none is waited for
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown()
        finally:
            self.reporter.finish("bytes")
            self.reporter.finish("files")
            with contextlib.suppress(OSError):
                self.partial.rmdir()  # only when empty
        if errors:
            from ..errors import OfflineMissing

            if isinstance(errors[0], OfflineMissing):  # the cache has only pages and metadata:
                errors[0].hint = (  # a wheelhouse's files are where they were downloaded to
                    f"download writes files to the wheelhouse, not the cache: rerun "
                    f"without --offline, or offline into the wheelhouse that has them "
                    f"(--dest {self.root} now; {len(missing)} files missing)")
            raise errors[0]
        self.remove_partials()  # all needed files are whole: leftovers are of unneeded ones
        return report

    def _write_error(self, f: DistFile, exc: OSError) -> ConstrainError:
        """A file the wheelhouse could not take: what, where, and why."""
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        return ConstrainError(
            f"cannot write {f.filename} into the wheelhouse {self.root}: "
            f"{exc.strerror or exc}",
            hint=("free space on its disk (or choose another --dest) and run the same command "
                  "again: the files already there are kept, and a cut-off one is resumed"
                  if full else "check the permissions of --dest, or choose another"))

    def _expected_size(self, f: DistFile) -> int:
        """The bytes ``f`` will add to the progress: the index's size, else a local copy's
        (a find-links file lists none), else 0 (unknown until it arrives)."""
        if f.size is not None:
            return f.size
        local = cached_path(f, self.cache)
        try:
            return local.stat().st_size if local is not None else 0
        except OSError:
            return 0

    def _fetch_one(self, f: DistFile) -> Fetched:
        final = self.root / f.filename
        part = self.partial / (f.filename + ".part")
        local = cached_path(f, self.cache)
        if local is not None:
            shutil.copyfile(local, part)
            actual = sha256_file(part)
            if self._matches(f, actual):
                os.replace(part, final)
                size = final.stat().st_size
                self.reporter.advance("bytes", size)  # counted in the bar's total too
                return Fetched(f, final, actual, size, "cache")
            part.unlink(missing_ok=True)  # a bad cached copy: fetch from the index instead
        url = f.url.split("#", 1)[0]
        how = "downloaded"
        moved = 0
        for attempt in range(2):
            start = part.stat().st_size if part.exists() else 0
            if start and not self._checkable(f):
                # no sha256 to check the whole against: a resume could not be verified
                self.reporter.info(f"{f.filename}: no sha256 known to check a resumed "
                                   "download against; fetching it from the start")
                part.unlink(missing_ok=True)
                start = 0
            if start and f.size is not None and start >= f.size:
                # complete but never moved into place (killed just then), or too long
                actual = sha256_file(part)
                if start == f.size and self._matches(f, actual):
                    self.reporter.advance("bytes", start)
                    break
                part.unlink(missing_ok=True)
                start = 0
            if start:
                how = "resumed"
                self.reporter.info(f"resuming {f.filename} at byte {start}")
                self.reporter.advance("bytes", start)
                headers = {**_IDENTITY, "Range": f"bytes={start}-"}
            else:
                headers = dict(_IDENTITY)
            self.reporter.info(f"downloading {f.filename}")

            def progress(n: int) -> None:
                if self._stop.is_set():
                    raise Stopped(f"{f.filename}: stopped, {part} kept for a resume")
                nonlocal moved
                moved += n
                self.reporter.advance("bytes", n)

            r = self.client.stream_to(url, part, headers, append=bool(start), progress=progress)
            if r.status == 416 and start:  # the range starts at or past the end: refetch
                part.unlink(missing_ok=True)
                continue
            if not r.ok:
                raise NetworkError(
                    f"could not download {f.filename}: HTTP {r.status} from {redact_url(url)}",
                    url=redact_url(url),
                    hint="the index listed a file it cannot serve; try again later",
                )
            got = part.stat().st_size
            total = resumed_total(r.headers.get("content-range"), start, f.size)
            if start and r.status == 206 and got != total:
                part.unlink(missing_ok=True)
                if attempt == 0:
                    self.reporter.warning(
                        f"{f.filename}: the server answered a resume at byte {start} with "
                        f"Content-Range {r.headers.get('content-range')!r}; fetching it whole")
                    continue
                raise NetworkError(
                    f"could not download {f.filename}: a bad partial answer from "
                    f"{redact_url(url)}", url=redact_url(url),
                    hint="the server mishandles range requests; try again later")
            if f.size is not None and got != f.size and (start or not self._checkable(f)):
                # a resume gone wrong is fetched again whole; with a sha256 known, a whole
                # download of the wrong size is left to the hash check (the clearer message)
                part.unlink(missing_ok=True)
                if attempt == 0 and start:
                    self.reporter.warning(f"{f.filename}: the resumed download is {got} bytes, "
                                          f"not {f.size}; fetching it whole")
                    continue
                raise NetworkError(
                    f"could not download {f.filename}: {got} bytes arrived, the index lists "
                    f"{f.size} (from {redact_url(url)})", url=redact_url(url),
                    hint="the file or the index page changed while downloading; try again")
            actual = sha256_file(part)
            if self._matches(f, actual):
                break
            if attempt == 0 and start:
                self.reporter.warning(
                    f"{f.filename}: the resumed download did not check out; fetching it whole"
                )
                part.unlink(missing_ok=True)
                continue
            part.unlink(missing_ok=True)
            raise HashMismatch(
                f"{f.filename} (from {redact_url(url)})",
                expected=f"sha256:{(f.sha256 or self.known.get(f.filename) or '').lower()}",
                actual=f"sha256:{actual}",
            )
        else:  # pragma: no cover - both attempts ended in 'continue'
            raise ConstrainError(f"could not download {f.filename} from {redact_url(url)}")
        os.replace(part, final)
        return Fetched(f, final, actual, final.stat().st_size, how, moved)

    def _checkable(self, f: DistFile) -> bool:
        """Is a sha256 known for ``f`` (from the index or the previous manifest)?"""
        return bool(f.sha256 or self.known.get(f.filename))

    def _matches(self, f: DistFile, actual: str) -> bool:
        expected = f.sha256 or self.known.get(f.filename)
        return expected is None or expected.lower() == actual

    def remove_partials(self) -> None:
        """Delete leftover ``.part`` files (after a run that no longer needs them)."""
        if self.partial.is_dir():
            shutil.rmtree(self.partial, ignore_errors=True)
