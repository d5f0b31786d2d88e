"""jupyter-llmops: a Jupyter-native LLMOps and MLOps kit.

This file is written by hand (nbdev does not generate it): it must stay import-light, because
`%load_ext jupyter_llmops` and `llmops --help` may not import torch, mlflow or any heavy library."""

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    "`%load_ext jupyter_llmops`: register the `%llmops` / `%%llmops` magics."
    from .magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):
    "`%unload_ext jupyter_llmops`: nothing to release; the magics stay until the kernel restarts."
