"""Writes a bundle as zip or tar.gz into any object with ``write(bytes)``.

The sink need not seek, so the archive can go straight to the network. In a
zip, each file is stored or deflated on its own merits: data that is already
compressed (images, archives, media, parquet) only costs time to deflate again.
"""

import hashlib
import io
import os
import tarfile
import time
import zipfile
import zlib

FORMATS = ("zip", "tar.gz")
READ_SIZE = 1024 * 1024
SAMPLE_SIZE = 64 * 1024
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


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n=-1):
        data = self.fileobj.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


class ZipWriter:
    def __init__(self, sink):
        self.zf = zipfile.ZipFile(sink, mode="w", allowZip64=True)

    def _info(self, arcname, mtime, deflate):
        info = zipfile.ZipInfo(arcname, date_time=time.localtime(max(mtime, 315532800))[:6])
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        return info

    def add_file(self, arcname, path):
        """Add the file at ``path``; return (size, sha256 hex) of what was stored."""
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            sample = f.read(SAMPLE_SIZE)
            info = self._info(arcname, stat.st_mtime, worth_deflating(arcname, sample))
            info.file_size = stat.st_size
            digest, size = hashlib.sha256(), 0
            with self.zf.open(info, "w", force_zip64=stat.st_size > 2**31) as out:
                chunk = sample
                while chunk:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                    chunk = f.read(READ_SIZE)
        return size, digest.hexdigest()

    def add_bytes(self, arcname, data):
        info = self._info(arcname, time.time(), worth_deflating(arcname, data[:SAMPLE_SIZE]))
        self.zf.writestr(info, data)
        return len(data), hashlib.sha256(data).hexdigest()

    def close(self):
        self.zf.close()


class TarGzWriter:
    def __init__(self, sink):
        self.tf = tarfile.open(fileobj=sink, mode="w|gz", format=tarfile.PAX_FORMAT)

    def _info(self, arcname, size, mtime):
        info = tarfile.TarInfo(arcname)
        info.size, info.mtime, info.mode = size, int(mtime), 0o644
        return info

    def add_file(self, arcname, path):
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            reader = _Hashing(f)
            self.tf.addfile(self._info(arcname, stat.st_size, stat.st_mtime), reader)
        if reader.size != stat.st_size:
            raise OSError(f"{path} changed size while it was being read")
        return reader.size, reader.sha256.hexdigest()

    def add_bytes(self, arcname, data):

        self.tf.addfile(self._info(arcname, len(data), time.time()), io.BytesIO(data))
        return len(data), hashlib.sha256(data).hexdigest()

    def close(self):
        self.tf.close()


def open_archive(fmt, sink):
    if fmt == "zip":
        return ZipWriter(sink)
    if fmt == "tar.gz":
        return TarGzWriter(sink)
    raise ValueError(f"unknown archive format {fmt!r}")
