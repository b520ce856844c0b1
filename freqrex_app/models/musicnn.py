"""PyTorch ports of the two musicnn tagger architectures (Pons & Serra, 2019).

Both take log-mel patches ``[P, 187, 96]`` (time, mel) and return tag logits ``[P, n_tags]``.
Layer for layer they follow musicnn 0.1.0's ``models.py`` (TensorFlow 1, NHWC with height =
time and width = mel), in inference mode: batch normalisation uses the stored moving
statistics with TensorFlow's epsilon 1e-3, dropout is the identity.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Musicnn", "VGG", "build_network", "conv_relu_bn_pool", "TF_BN_EPS"]

TF_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=TF_BN_EPS)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=TF_BN_EPS)


def _affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inference BN as ``scale * x + shift``, and ``sign(scale)`` (+1 where scale >= 0)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    return scale, shift, torch.where(scale < 0, -1.0, 1.0).to(scale.dtype)


def conv_relu_bn_pool(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d,
                      pool: Callable[[torch.Tensor], torch.Tensor],
                      stride: tuple[int, int] | None = None) -> torch.Tensor:
    """``pool(bn(relu(conv(x))))`` for a max ``pool``, computed on the pooled map only.

    BN in inference is ``scale * y + shift`` per channel, monotone in ``y``: where
    ``scale >= 0`` the max of ``scale * relu(z) + shift`` is ``scale * relu(max z) + shift``;
    where ``scale < 0`` it is ``scale * relu(min z) + shift`` and ``min z = -max(-z)``, so those
    channels are convolved with negated weights. Same values, a fraction of the elementwise work.
    """
    scale, shift, sign = _affine(bn)
    weight, bias = conv.weight * sign[:, None, None, None], conv.bias * sign
    stride = tuple(stride or conv.stride)
    if x.requires_grad and _time_only(conv) and stride == (1, 1):  # a gradient pass
        z = _conv_along_time(x, weight, bias)
    else:
        z = F.conv2d(x, weight, bias, stride, conv.padding, conv.dilation, conv.groups)
    m = pool(z)
    shape = (1, -1) + (1,) * (m.dim() - 2)
    # out of place: on the pooled map the copies cost nothing, and autograd needs no clones
    return (m * sign.view(shape)).relu() * scale.view(shape) + shift.view(shape)


def _time_only(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` is a ``(k, 1)`` kernel on one input channel, unpadded (musicnn's
    temporal filters)."""
    return (conv.in_channels == 1 and conv.kernel_size[1] == 1 and conv.groups == 1
            and tuple(conv.padding) == (0, 0) and tuple(conv.dilation) == (1, 1))


def _conv_along_time(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x [P, 1, T, M], weight [C, 1, k, 1], bias)`` as one 1-D convolution along
    time per mel column (``[P, C, T - k + 1, M]``, not contiguous): the same values (bit for
    bit on this machine's CPU), and a backward pass about 3x faster than mkldnn's for a
    ``(k, 1)`` kernel; its forward is a few % slower, so ``predict`` keeps ``conv2d``."""
    p, _, t, m = x.shape
    y = F.conv1d(x.permute(0, 3, 1, 2).reshape(p * m, 1, t), weight[..., 0], bias)
    return y.unflatten(0, (p, m)).permute(0, 2, 3, 1)


class _FreqPooledConv(nn.Module):
    """conv -> ReLU -> BN -> max over the mel axis (musicnn's timbral and temporal blocks).

    ``time_pad`` is (before, after) zero padding along time, applied to the input first.
    """

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int]):
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = _bn2d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [P, 1, T, M]
        x = F.pad(x, (0, 0, *self.time_pad))
        return conv_relu_bn_pool(x, self.conv, self.bn, lambda z: z.amax(dim=3))  # [P, C, T]


class Musicnn(nn.Module):
    """musicnn: musically motivated front-end (timbral 7x38 and 7x67 filters, temporal 128/64/32
    filters, each max-pooled over frequency), dense mid-end (three 1-D convs with residual
    connections), back-end of max- and mean-pooling over time and two dense layers."""

    def __init__(self, n_tags: int = 50, n_mels: int = 96, num_filt: float = 1.6,
                 midend_filters: int = 64, backend_units: int = 200):
        super().__init__()
        timbral = int(num_filt * 128)
        temporal = int(num_filt * 32)
        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(
            [_FreqPooledConv(timbral, (7, int(f * n_mels)), (3, 3)) for f in (0.4, 0.7)]
        )
        # TensorFlow 'same' padding for an even kernel k: (k - 1) // 2 before, the rest after.
        self.temporal = nn.ModuleList(
            [_FreqPooledConv(temporal, (k, 1), ((k - 1) // 2, k - 1 - (k - 1) // 2)) for k in (128, 64, 32)]
        )
        front = 2 * timbral + 3 * temporal  # 561
        self.mid_convs = nn.ModuleList(
            [nn.Conv1d(front, midend_filters, 7, padding=3)]
            + [nn.Conv1d(midend_filters, midend_filters, 7, padding=3) for _ in range(2)]
        )
        self.mid_bns = nn.ModuleList([_bn1d(midend_filters) for _ in range(3)])
        pooled = 2 * (front + 3 * midend_filters)  # max and mean of 753 features
        self.pool_bn = _bn1d(pooled)
        self.dense = nn.Linear(pooled, backend_units)
        self.dense_bn = _bn1d(backend_units)
        self.out = nn.Linear(backend_units, n_tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [P, T, M]
        x = self.input_bn(x.unsqueeze(1))  # [P, 1, T, M]
        front = torch.cat([blk(x) for blk in (*self.timbral, *self.temporal)], dim=1)  # [P, 561, T]
        feats = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.mid_convs, self.mid_bns)):
            y = bn(F.relu(conv(h)))
            h = y if i == 0 else y + h
            feats.append(h)
        mid = torch.cat(feats, dim=1)  # [P, 753, T]
        # TensorFlow concatenates [max, mean] on a trailing axis then flattens: interleaved.
        pooled = torch.stack([mid.amax(dim=2), mid.mean(dim=2)], dim=2).flatten(1)  # [P, 1506]
        h = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return self.out(h)


def _pool_time4_stride2(z: torch.Tensor) -> torch.Tensor:
    """Max-pool (4, 1) with stride 2 along time (valid), as pairs of pairs."""
    n = (z.shape[2] - 4) // 2 + 1
    pairs = z[:, :, : 2 * (n + 1)].unflatten(2, (n + 1, 2)).amax(3)
    return torch.maximum(pairs[:, :, :-1], pairs[:, :, 1:])


def _pool_square(k: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Max-pool k x k with stride k (valid), as a reshape and a max."""

    def pool(z: torch.Tensor) -> torch.Tensor:
        h, w = z.shape[2] // k, z.shape[3] // k
        return z[:, :, : h * k, : w * k].unflatten(3, (w, k)).unflatten(2, (h, k)).amax((3, 5))

    return pool


class VGG(nn.Module):
    """musicnn's VGG-like baseline: five 3x3 conv blocks (ReLU, BN, max-pool), dense output.

    Pools: (4, 1) with stride (2, 2), then 2x2, 2x2, 2x2 and 4x4, all 'valid'. The first pool's
    mel stride 2 with width 1 keeps only even mel columns, so the first conv is evaluated there
    only (stride (1, 2)).
    """

    def __init__(self, n_tags: int = 50, filters: int = 128):
        super().__init__()
        self.input_bn = _bn2d(1)
        self.convs = nn.ModuleList([nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)])
        self.bns = nn.ModuleList([_bn2d(filters) for _ in range(5)])
        self.pools = [_pool_time4_stride2, _pool_square(2), _pool_square(2), _pool_square(2), _pool_square(4)]
        self.out = nn.Linear(2 * 1 * filters, n_tags)  # pool5 is [2 (time), 1 (mel), filters]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [P, T, M]
        h = self.input_bn(x.unsqueeze(1))
        for i, (conv, bn, pool) in enumerate(zip(self.convs, self.bns, self.pools)):
            h = conv_relu_bn_pool(h, conv, bn, pool, stride=(1, 2) if i == 0 else None)
        # TensorFlow flattens NHWC: (time, mel, channel) order.
        return self.out(h.permute(0, 2, 3, 1).flatten(1))


def build_network(arch: str, n_tags: int = 50) -> nn.Module:
    """An untrained network of architecture ``"musicnn"`` or ``"vgg"``, in eval mode."""
    if arch == "musicnn":
        net: nn.Module = Musicnn(n_tags)
    elif arch == "vgg":
        net = VGG(n_tags)
    else:
        raise ValueError(f"unknown architecture {arch!r}; expected 'musicnn' or 'vgg'")
    return net.eval()
