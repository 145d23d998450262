"""Noema's engine: the LLaDA2-MoE model, checkpoint loading, quantization, the KV-cached
block-diffusion sampler and the answer checker. Importable without any UI package.

The public entry point is `noema_core.engine.Engine`; submodules are imported lazily by
callers so that `import noema_core` stays cheap (no torch at import time).
"""

__version__ = "0.1.0"
