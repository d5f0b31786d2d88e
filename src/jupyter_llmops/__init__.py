"""jupyter-llmops: a Jupyter-native LLMOps and MLOps kit.

This file is written by hand (nbdev does not generate it): it must stay import-light, because
`%load_ext jupyter_llmops` and `llmops --help` may not import torch, mlflow or any heavy library."""

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    "`%load_ext jupyter_llmops`: register the `%llmops` / `%%llmops` magics."
    if ipython is None or not hasattr(ipython, "register_magics"):
        raise RuntimeError("the %llmops magics need IPython: run `%load_ext jupyter_llmops` in a Jupyter notebook or IPython; "
                           "in a shell use the same words after `llmops` (llmops --help)")
    from .magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):
    "`%unload_ext jupyter_llmops`: nothing to release; the magics stay until the kernel restarts."


def glue(name, value):
    "Publish `value` under `name` from a notebook run by `%llmops run` (read back into `result.glue`; pipelines pass it on)."
    from .pipelines.glue import glue as _glue
    return _glue(name, value)


def _jupyter_server_extension_points():
    "Jupyter Server finds the REST API (`/llmops/api/...`) here; the handlers are imported only when it loads."
    return [{"module": "jupyter_llmops"}]


def _load_jupyter_server_extension(serverapp):
    "Add the `/llmops/api/...` routes to the Jupyter server."
    from .server import setup_handlers
    setup_handlers(serverapp.web_app, serverapp.root_dir)
    serverapp.log.info("jupyter_llmops: REST API at %sllmops/api/", serverapp.base_url)


def _jupyter_labextension_paths():
    "The prebuilt JupyterLab extension shipped in the package (`labextension/`)."
    return [{"src": "labextension", "dest": "jupyter-llmops"}]
