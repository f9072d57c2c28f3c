"""Writes a bundle as zip or tar.gz into any object with ``write(bytes)``.

The sink need not seek, so the archive can go straight to the network. In a
zip, each file is stored or deflated on its own merits: data that is already
compressed (images, archives, media, parquet) only costs time to deflate again.

A member whose source fails part-way (a file that changed while it was read, an
HTML copy that could not be finished) is left out and the archive stays valid:
in a zip its bytes are already sent but it never enters the central directory,
which is what every extractor reads; in a tar, whose headers carry the size
before the data, such members are first read into a spool (memory for small
ones, a temporary file for large ones) and written only once they are whole.
"""

import hashlib
import io
import itertools
import os
import tarfile
import tempfile
import time
import zipfile
import zlib

from .layout import tar_info, zip_date_time

FORMATS = ("zip", "tar", "tar.gz")
SAMPLE_SIZE = 64 * 1024
SPOOL_MEMORY = 8 * 1024 * 1024
# Deflating saves less than this share of a sample: store the file instead.
MIN_SAVING = 0.1
COMPRESSED_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .webp .avif .heic .ico .zip .gz .tgz .bz2 .xz .zst .lz4 .7z .rar"
    " .parquet .feather .arrow .orc .npz .h5 .hdf5 .mp4 .m4v .mov .mkv .webm .avi .mp3 .m4a"
    " .ogg .opus .flac .woff .woff2 .pdf .docx .xlsx .pptx .odt .ods .jar .whl .pkl.gz".split()
)


def worth_deflating(name, sample):
    """Whether deflating a file pays: not for compressed formats, nor for data
    whose first 64 KiB barely shrink."""
    if os.path.splitext(name)[1].lower() in COMPRESSED_SUFFIXES:
        return False
    if not sample:
        return True
    return len(zlib.compress(sample, 1)) < len(sample) * (1 - MIN_SAVING)


class _Digest:
    """The size and sha256 of the blocks that pass ``through`` it."""

    def __init__(self):
        self.sha256, self.size = hashlib.sha256(), 0

    def through(self, blocks):
        for block in blocks:
            self.sha256.update(block)
            self.size += len(block)
            yield block

    def result(self):
        return self.size, self.sha256.hexdigest()


class ZipWriter:
    def __init__(self, sink):
        self.zf = zipfile.ZipFile(sink, mode="w", allowZip64=True)

    def _info(self, arcname, mtime, deflate):
        info = zipfile.ZipInfo(arcname, date_time=zip_date_time(mtime))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        return info

    def _entry(self, arcname, mtime, first, rest, most, finish=None):
        """Write one member from the bytes ``first`` then the iterable ``rest`` (at most
        ``most`` bytes in all, or None: not known); return (size, sha256 hex). If ``rest`` or ``finish``
        raises, the member is left out of the central directory and the error goes on."""
        info = self._info(arcname, mtime, worth_deflating(arcname, first))
        digest = _Digest()
        try:
            # zipfile's own rule: compressed data may come out a little larger than it went in.
            large = most is None or most * 1.05 > zipfile.ZIP64_LIMIT
            with self.zf.open(info, "w", force_zip64=large) as out:
                for block in digest.through(itertools.chain((first,), rest)):
                    out.write(block)
                if finish is not None:
                    finish()
        except Exception:
            # The data (and its descriptor) went out; without a central directory entry
            # no extractor will see it.
            if info in self.zf.filelist:
                self.zf.filelist.remove(info)
                self.zf.NameToInfo.pop(info.filename, None)
            raise
        return digest.result()

    def add_file(self, arcname, checked, mtime):
        """Add a sources.CheckedFile; Changed (and the member left out) if it moved."""
        sample = checked.read(SAMPLE_SIZE)
        return self._entry(arcname, mtime, sample, checked.blocks(), checked.item.size, checked.finish)

    def add_stream(self, arcname, blocks, mtime, most):
        """Add the bytes an iterable yields, at most ``most`` of them (None: not known, as
        for the HTML copy)."""
        blocks = iter(blocks)
        return self._entry(arcname, mtime, next(blocks, b""), blocks, most)

    def add_bytes(self, arcname, data, mtime=None):
        info = self._info(
            arcname, time.time() if mtime is None else mtime, worth_deflating(arcname, data[:SAMPLE_SIZE])
        )
        self.zf.writestr(info, data)
        return len(data), hashlib.sha256(data).hexdigest()

    def close(self):
        self.zf.close()

    def abandon(self):
        """Give up on an archive whose sink failed: nothing more is written to it."""
        self.zf.fp = None


class TarGzWriter:
    def __init__(self, sink, mode="w|gz"):
        self.tf = tarfile.open(fileobj=sink, mode=mode, format=tarfile.PAX_FORMAT)

    def _info(self, arcname, size, mtime):
        return tar_info(arcname, size, mtime)

    def _spooled(self, arcname, mtime, blocks, finish=None):
        """Spool the member whole, then write it: nothing goes out if ``blocks`` or
        ``finish`` raises."""
        digest = _Digest()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, prefix="nbext_pkg-") as spool:
            for block in digest.through(blocks):
                spool.write(block)
            if finish is not None:
                finish()
            spool.seek(0)
            self.tf.addfile(self._info(arcname, digest.size, mtime), spool)
        return digest.result()

    def add_file(self, arcname, checked, mtime):
        return self._spooled(arcname, mtime, checked.blocks(), checked.finish)

    def add_stream(self, arcname, blocks, mtime, most):
        return self._spooled(arcname, mtime, blocks)

    def add_bytes(self, arcname, data, mtime=None):
        mtime = time.time() if mtime is None else mtime
        self.tf.addfile(self._info(arcname, len(data), mtime), io.BytesIO(data))
        return len(data), hashlib.sha256(data).hexdigest()

    def close(self):
        self.tf.close()

    def abandon(self):
        """Give up on an archive whose sink failed: nothing more is written to it."""
        self.tf.closed = True
        self.tf.fileobj.closed = True


def open_archive(fmt, sink):
    if fmt == "zip":
        return ZipWriter(sink)
    if fmt == "tar.gz":
        return TarGzWriter(sink)
    if fmt == "tar":  # where the bundle cannot be sized (sized.py): streamed, members spooled
        return TarGzWriter(sink, "w|")
    raise ValueError(f"unknown archive format {fmt!r}")
