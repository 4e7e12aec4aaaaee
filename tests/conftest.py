import matplotlib

matplotlib.use("Agg")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread():
    """Keep OpenMP libraries (HistGradientBoosting, ...) to one thread: small models on 2 shared cores
    run far faster that way."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
