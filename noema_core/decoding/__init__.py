"""Block-diffusion decoding: settings, events, pure policies and the KV-cached sampler."""
