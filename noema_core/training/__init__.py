"""The recipe that trains Noema's bundled model: curriculum, tokenizer, objective, trainer.

Training reuses the model (`noema_core.model`) and loading (`noema_core.loading`); it calls the
engine's sampler only to evaluate. Nothing here imports a UI package.
"""
