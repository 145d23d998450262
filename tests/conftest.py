"""Suite-wide setup: under pytest-xdist each worker gets one core's worth of threads.

With `-n N` the workers already use the cores; PyTorch's and OpenMP's own thread pools
(and those of the `noema` processes the tests start, which inherit the environment) would
otherwise ask for every core each, and oversubscribed OpenMP threads spin-wait on each other.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
