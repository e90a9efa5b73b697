"""single_thread_blas limits BLAS to one thread inside the block, through threadpoolctl, and restores
the setting after it (#13: no ctypes calls into OpenBLAS)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from clusterimpact.estimation.influence import single_thread_blas


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_single_thread_blas_limits_and_restores():
    np.ones((3, 3)) @ np.ones((3, 3))  # numpy's BLAS is loaded
    assert _blas_threads(), "no BLAS library found by threadpoolctl"
    with threadpool_limits(limits=2, user_api="blas"):  # a known setting that is not 1
        assert set(_blas_threads()) == {2}
        with single_thread_blas():
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}


def test_single_thread_blas_restores_after_an_error():
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(RuntimeError, match="inside"), single_thread_blas():
            raise RuntimeError("inside")
        assert set(_blas_threads()) == {2}
