"""Connector registry: every name, pooling, errors, the resampler and its zero gate."""

from __future__ import annotations

import pytest
import torch

from genaisys.core.connectors import MLPConnector, ResamplerConnector, build_connector
from genaisys.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize(("name", "n_out"), [("identity", 49), ("linear", 49), ("mlp1x_gelu", 49),
                                             ("mlp2x_gelu", 49), ("mlp3x_gelu", 49), ("resampler", 32),
                                             ("resampler8", 8), ("gated_resampler4", 4), ("resampler6x3", 6)])
def test_every_connector_maps_features_into_the_lm_width(name, n_out):
    d_out = 16 if name != "identity" else 24
    conn = build_connector(name, 24, d_out)
    out = conn(torch.randn(2, 49, 24))
    assert out.shape == (2, n_out, d_out)
    assert conn.output_tokens(49) == n_out


def test_mlp_depth_follows_the_name():
    conn = build_connector("mlp3x_gelu", 8, 4)
    assert isinstance(conn, MLPConnector)
    assert sum(isinstance(m, torch.nn.Linear) for m in conn.mlp) == 3
    assert sum(isinstance(m, torch.nn.GELU) for m in conn.mlp) == 2


def test_pooling_averages_neighbouring_tokens():
    conn = build_connector("identity", 4, 4, n_tokens=2)
    x = torch.arange(16, dtype=torch.float32).view(1, 4, 4)  # tokens 0..3
    torch.testing.assert_close(conn(x), torch.stack([x[0, :2].mean(0), x[0, 2:].mean(0)]).unsqueeze(0))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"unknown connector 'mlp2x_relu'.*identity.*linear.*mlp\{N\}x_gelu"):
        build_connector("mlp2x_relu", 8, 8)


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("identity", {}, "in_dim == out_dim"),
    ("linear", {"n_tokens": 0}, "n_tokens"),
    ("mlp0x_gelu", {}, "N >= 1"),
    ("resampler8", {"n_tokens": 4}, "resampler4"),
])
def test_bad_settings_are_config_errors(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_connector(name, 8, 6, **kwargs)


def test_wrong_feature_width_is_explained():
    with pytest.raises(ConfigError, match="hidden_size"):
        build_connector("linear", 8, 4)(torch.zeros(1, 3, 5))


def test_gated_resampler_starts_closed_then_trains_open():
    conn = build_connector("gated_resampler4", 8, 16)
    assert isinstance(conn, ResamplerConnector)
    a, b = conn(torch.randn(2, 9, 8)), conn(torch.randn(2, 9, 8))
    torch.testing.assert_close(a, b)  # tanh(0) = 0: the image does not reach the output yet
    torch.testing.assert_close(a[0], conn.queries)
    a.sum().backward()
    assert conn.gate.grad is not None and conn.gate.grad.abs() > 0  # but the gate can learn to open
    with torch.no_grad():
        conn.gate.fill_(1.0)
    assert not torch.allclose(conn(torch.randn(1, 9, 8)), conn(torch.randn(1, 9, 8)))


def test_resampler_output_length_is_independent_of_input_length():
    assert len(build_connector("gated_resampler6x3", 8, 16).layers) == 3
    conn = build_connector("resampler6", 8, 16)
    assert conn(torch.randn(1, 4, 8)).shape == conn(torch.randn(1, 100, 8)).shape == (1, 6, 16)
