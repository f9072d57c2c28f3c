"""A server extension for tests: GET /api/kernelspecs answers only after
$NBEXT_PKG_KERNELSPECS_DELAY seconds (2 by default), as on a busy server, so a
notebook page has its session before it knows the kernels. For notebook 6 and
jupyter_server alike; enable it with :func:`config_file`."""

import asyncio
import os


def _answer_late(handler_class):
    get = handler_class.get

    async def late_get(self, *args, **kwargs):
        await asyncio.sleep(float(os.environ.get("NBEXT_PKG_KERNELSPECS_DELAY", "2")))
        return await get(self, *args, **kwargs)

    handler_class.get = late_get


def load_jupyter_server_extension(app):
    if type(app).__module__.startswith("notebook."):
        from notebook.services.kernelspecs.handlers import MainKernelSpecHandler
    else:
        from jupyter_server.services.kernelspecs.handlers import MainKernelSpecHandler
    _answer_late(MainKernelSpecHandler)
    app.log.info("slow_kernelspecs: GET api/kernelspecs answers late")


_load_jupyter_server_extension = load_jupyter_server_extension


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def config_file(folder):
    """A config file that enables this extension beside those already enabled; pass
    ``--config=<it>`` to a server started with ``test_modules=True``."""
    path = os.path.join(folder, "slow_kernelspecs_config.py")
    with open(path, "w") as f:
        f.write(
            "c.NotebookApp.nbserver_extensions.update({'slow_kernelspecs': True})\n"
            "c.ServerApp.jpserver_extensions.update({'slow_kernelspecs': True})\n"
        )
    return path
