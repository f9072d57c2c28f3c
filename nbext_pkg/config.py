"""Server-side settings of nbext_pkg, as traitlets: ``c.NbextPkg.<name>``."""

from traitlets import CaselessStrEnum, Dict, Float, Integer
from traitlets.config import Configurable


class NbextPkg(Configurable):
    """Limits and defaults for nbext_pkg's server part."""

    max_bundle_bytes = Integer(
        2 * 1024**3,
        help="Largest notebook bundle, in bytes of files before compression. A bundle "
        "over it is refused with 413 before the first byte is sent.",
    ).tag(config=True)

    max_bundle_files = Integer(
        10_000,
        help="Most files one notebook bundle may hold (the notebook, its HTML copy and "
        "the manifest not counted). A bundle over it is refused with 413.",
    ).tag(config=True)

    max_notebook_bytes = Integer(
        256 * 1024**2,
        help="Largest notebook that can be bundled, in bytes of its file; a larger one is "
        "refused with 413 before it is read.",
    ).tag(config=True)

    max_contents_file_bytes = Integer(
        256 * 1024**2,
        help="Largest file a bundle reads through the contents manager, where the server's "
        "files are not on this disk (pgcontents, s3contents): such a manager hands over a "
        "whole file at once, so one larger file would cost the server several times its "
        "size in memory. A larger file is left out as 'too-large'.",
    ).tag(config=True)

    contents_reader = CaselessStrEnum(
        ["auto", "process", "thread"],
        "auto",
        help="How a bundle reads files through a contents manager that is not the disk. "
        "'process': a process of its own rebuilds the manager from the server's "
        "configuration and reads there, so the manager's decoding holds neither the "
        "server's interpreter nor its memory; right only for managers that keep all "
        "their state in their store (a database, S3) and take all their settings from "
        "the configuration. 'thread': the server's own manager, on a worker thread. "
        "'auto': 'process' for pgcontents and s3contents, 'thread' for any other.",
    ).tag(config=True)

    bundle_chunk_bytes = Integer(
        1024 * 1024,
        help="Size of the pieces a bundle is sent in; at most a few of them wait in "
        "memory at any time, whatever the size of the bundle.",
    ).tag(config=True)

    bundle_embed_max_bytes = Integer(
        8 * 1024**2,
        help="Largest image the bundle's HTML copy embeds as a data URI; larger ones stay "
        "links to the copy of the image in the bundle.",
    ).tag(config=True)

    bundle_embed_total_bytes = Integer(
        64 * 1024**2,
        help="Most image bytes the HTML copy of one bundle embeds in all (an image shown "
        "ten times counts ten times); past them, images stay links to their copies.",
    ).tag(config=True)

    bundle_html_timeout = Float(
        60.0,
        help="Seconds the HTML copy of a bundle may take to render (in a child process); "
        "past them the bundle goes without it and its manifest says html-timeout.",
    ).tag(config=True)

    bundle_html_max_memory = Integer(
        1024**3,
        help="Address space, in bytes, of the child process that reads a bundle's notebook "
        "(for its references) and renders its HTML copy; a render that needs more is "
        "dropped and the manifest says html-too-large, a notebook it cannot read gets 413.",
    ).tag(config=True)

    bundle_plan_timeout = Float(
        30.0,
        help="Seconds a bundle may spend listing the files its notebook refers to; past "
        "them the request is refused with 413 and a sentence.",
    ).tag(config=True)

    bundle_idle_timeout = Float(
        60.0,
        help="Seconds a bundle download may make no progress (a client that stopped "
        "reading, say) before it is ended and its worker freed.",
    ).tag(config=True)

    bundle_requirements_timeout = Float(
        10.0,
        help="Seconds the kernel's own interpreter may take to say which installed "
        "distributions provide the notebook's imports (for requirements.txt and "
        "runtime.txt); past them the server's environment is asked instead, and the "
        "manifest's requirements_from says so.",
    ).tag(config=True)

    max_concurrent_bundles = Integer(
        8,
        help="Most bundles made at once; a request beyond them gets 503 with Retry-After.",
    ).tag(config=True)

    open_max_files = Integer(
        10_000,
        help="Most members an archive opened by nbext_pkg (a bundle, or any zip, tar or tar.gz) "
        "may hold; one with more is refused before anything is written.",
    ).tag(config=True)

    open_max_bytes = Integer(
        4 * 1024**3,
        help="Most bytes an archive opened by nbext_pkg may hold once uncompressed, counted as "
        "they are written (not as the archive says); past them it is refused and nothing is left.",
    ).tag(config=True)

    open_max_ratio = Float(
        200.0,
        help="Most bytes an opened archive may yield per byte of its own size (a compression "
        "bomb yields thousands), judged once more than 16 MiB came out, so that a small, very "
        "compressible archive still opens.",
    ).tag(config=True)

    kernel_pool = Dict(
        value_trait=Integer(min=0),
        default_value={},
        help="Warm kernels for New notebook: kernelspec name -> how many started, idle kernels to "
        "keep ready (at most 10 each), e.g. {'python3': 1}. New notebook then takes one and moves "
        "it to the notebook's folder and environment, so the notebook's first cell runs without "
        "waiting for a kernel to start. Each costs a kernel's memory while idle: off by default. "
        "Only Python kernels can be pooled; any other is refused at start with a warning. On the "
        "command line: --NbextPkg.kernel_pool python3=1",
    ).tag(config=True)

    kernel_pool_refill_delay = Float(
        5.0,
        help="Seconds between New notebook taking a warm kernel and the pool starting its "
        "replacement, so that the start does not slow the claimed kernel's first cells.",
    ).tag(config=True)

    kernel_pool_max_age = Float(
        3600.0,
        help="Seconds a warm kernel waits unclaimed before it is replaced by a fresh one "
        "(0: never), so a claimed kernel never predates the environment by long.",
    ).tag(config=True)

    kernel_pool_start_timeout = Float(
        60.0,
        help="Seconds a warm kernel may take to start and answer; past them the try counts as "
        "failed, and after three failures in a row that kernelspec gets no warm kernels.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.active_bundles = 0


def settings_of(web_settings):
    """The NbextPkg instance the server extension stored, or one made from the
    server's config (when the bundler runs without our server extension)."""
    found = web_settings.get("nbext_pkg")
    if found is None:
        found = web_settings["nbext_pkg"] = NbextPkg(config=web_settings.get("config"))
    return found
