"""Foreign region: a small head that learns, from good parts only, to outline a region that belongs to another part.

The region contrast (:mod:`core.model.region_contrast`) weighs every direction of the features by how much it
varies over good regions; a band ground to another finish can differ along directions it does not favour.
:class:`ForeignRegion` learns what tells such a region apart instead, still without any defective example. Its
training composites are good parts with a region taken from *another* good part
(:func:`core.data.defects.region_swap`) and good parts with a region of their *own* surface made darker or brighter
(:func:`core.data.defects.region_refinish`): every pixel looks like a good part somewhere, what is wrong is that the
region does not match the rest of its part. Composites are real images, not mixed features: the encoder's response
at a real seam is not a mix of two parts' features.

The inputs, on the stride-16 grid, are the encoder's target features projected on a few principal directions, each
with its difference from the image's median and its deviation from its mean at the same place over good parts (in
units of its spread there); the deviation says which side of a seam is the part's usual finish at that place. In low
light the head also takes each cell's local light level (:func:`local_light_level`), which the enhancement of a dark
image divides out; well-lit features still see it, so only the low-light head takes it
(:data:`core.postprocess.fitting.LIGHT_LEVEL_MODES`). Three 3 x 3 convolutions of dilations 1, 2 and 4 (about the
whole part at 256 pixels) and a 1 x 1 one give a logit per cell, trained with per-position binary cross-entropy
against the composite's mask, untouched good parts counting as all-negative. At inspection the logit is averaged
over the input and its three mirror images, so it depends less on the head's random start. As a z-score over
held-out good images it is added to the map, scaled to the map's spread on good images; the image score is
unchanged.

Some 74 k weights per mode plus two projections and each place's mean and spread of them; nothing is stored per good
image. Until fitted it adds nothing, so models saved before it keep their maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.model.anomaly_map import MapTerm, gaussian_kernel1d, separable_blur
from core.model.density import size_buffers_as_saved
from core.model.image_density import minus_image_median, principal_basis, project

#: the flips (dimensions of a (B, D, h, w) tensor) of the mirror images the head's logit is averaged over
_MIRRORS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))
#: the Gaussian blurs of the light, as shares of the image's size, whose log ratio is the local light level: the
#: enhancement's own (:func:`core.data.lowlight.estimate_illumination`) and one wide enough to follow only the
#: light field
LIGHT_BLURS = (0.08, 0.30)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, 1, h, w) smoothed by a Gaussian of ``sigma`` cells, mirrored at the border, its radius kept under the
    map's size along each side."""
    k = gaussian_kernel1d(sigma).to(x)
    centre = k.numel() // 2

    def trimmed(n: int) -> torch.Tensor:
        r = min(centre, n - 1)
        t = k[centre - r : centre + r + 1]
        return t / t.sum()

    return separable_blur(x, trimmed(x.shape[3]), trimmed(x.shape[2]))


def local_light_level(image: torch.Tensor, grid: Sequence[int], blurs: Sequence[float] = LIGHT_BLURS) -> torch.Tensor:
    """(B, 1, h, w) how much brighter (positive) or darker each cell of ``grid`` is than the light around it:
    the log of the brightest channel's linear light blurred over 8 % of the image's size, less its log blurred
    over 30 % (``blurs``, :data:`LIGHT_BLURS`), averaged over the cell. ``image``: (B, 3, H, W) in [0, 1], as captured.
    The enhancement divides the first blur out of a dark image, and with it a band's or a break's own level; the
    second follows the smooth light field, which the ratio cancels. Worked out at a quarter of the image's size."""
    srgb = image.float().amax(1, keepdim=True).clamp(0, 1)
    linear = torch.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    small = F.avg_pool2d(linear, 4) if min(image.shape[-2:]) >= 16 else linear
    size = int(max(small.shape[-2:]))  # a number, not a traced size: the blurs' kernels are made from it
    narrow, wide = (_blur(small, share * size).clamp_min(1e-4).log() for share in blurs)
    return F.adaptive_avg_pool2d(narrow - wide, tuple(grid))


class ForeignRegion(MapTerm):
    """Per-position logit that a region of the part comes from another part, trained on swapped good parts."""

    label = "foreign-region head"

    #: principal directions kept of the coarsest (stride 16) and the next (stride 8) features
    coarse_rank = 48
    fine_rank = 16
    #: the head's width
    width = 32
    #: passes over the composites and good images, images per step, peak learning rate
    epochs = 10
    batch_size = 32
    lr = 3e-3
    #: added to each position's spread of a projection, as a share of that projection's mean spread over positions
    position_floor = 0.1
    #: the share of the good images held out from its training to set the z-score
    holdout = 0.2
    #: the fewest good images it is fitted with (three to train on, one held out)
    min_images = 4
    #: the blurs whose log ratio is the local light level (:func:`local_light_level`)
    light_blurs = LIGHT_BLURS
    setting_names = (
        "default_weight",
        "coarse_rank",
        "fine_rank",
        "width",
        "epochs",
        "batch_size",
        "lr",
        "position_floor",
        "holdout",
        "min_images",
        "light_blurs",
    )

    def __init__(self, channels: Sequence[int], settings: dict | None = None) -> None:
        super().__init__(settings)
        fine, coarse = min(self.fine_rank, channels[-2]), min(self.coarse_rank, channels[-1])
        width = self.width
        self.head = nn.Sequential(
            nn.Conv2d(3 * (fine + coarse), width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(),
            nn.Conv2d(width, 1, 1),
        )
        # empty until fitted; sized on fit and on load
        self.register_buffer("fine_projection", torch.zeros(0, 0))  # (C8, k8)
        self.register_buffer("fine_centre", torch.zeros(0))  # (C8,)
        self.register_buffer("coarse_projection", torch.zeros(0, 0))  # (C16, k16)
        self.register_buffer("coarse_centre", torch.zeros(0))  # (C16,)
        # each projection's mean and spread at each position over the good images the head was trained with
        self.register_buffer("position_centre", torch.zeros(0, 0, 0))  # (k8 + k16, h, w)
        self.register_buffer("position_spread", torch.zeros(0, 0, 0))  # (k8 + k16, h, w)
        self.register_buffer("scale", torch.zeros(0))  # (3 * (k8 + k16),) each input channel's spread
        # how many mirror images of its input the head's logit is averaged over: 1 (as saved before format 11) or 4
        self.register_buffer("views", torch.ones((), dtype=torch.int64))
        # 1 when the head also takes each cell's local light level (:func:`local_light_level`; format 13), else 0
        self.register_buffer("light_channels", torch.zeros((), dtype=torch.int64))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        projections = ("fine_projection", "fine_centre", "coarse_projection", "coarse_centre")
        size_buffers_as_saved(self, state_dict, prefix, (*projections, "position_centre", "position_spread", "scale"))
        first = state_dict.get(prefix + "head.0.weight")
        if isinstance(first, torch.Tensor) and first.shape[1] != self.head[0].in_channels:
            # saved before format 12, without the position channels: the first layer as it was then
            self.head[0] = nn.Conv2d(first.shape[1], self.head[0].out_channels, 3, padding=1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def fit_projections(self, fine: torch.Tensor, coarse: torch.Tensor) -> None:
        """Principal directions and centres from good images' (N, C, h, w) stride-8 and stride-16 features."""
        self.fine_projection, self.fine_centre = principal_basis(fine, self.fine_rank)
        self.coarse_projection, self.coarse_centre = principal_basis(coarse, self.coarse_rank)

    @property
    def takes_light(self) -> bool:
        return bool(self.light_channels)

    def take_light(self, on: bool) -> None:
        """Whether the head takes each cell's local light level as a further input (before :meth:`fit`, which
        sizes the first layer for it)."""
        self.light_channels.fill_(int(on))

    def inputs(self, feats: Sequence[torch.Tensor], level: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder target features (shallow first) -> (B, 2(k8 + k16), h, w) on the coarsest grid: both projections
        and their differences from the image's median; then, if the head :attr:`takes_light`, ``level`` (B, 1, h,
        w), the :func:`local_light_level` of the images as captured. What :meth:`fit` takes; :meth:`head_input`
        completes it."""
        x8 = project(feats[-2], self.fine_projection, self.fine_centre)
        x16 = project(feats[-1], self.coarse_projection, self.coarse_centre)
        x = torch.cat([F.adaptive_avg_pool2d(x8, x16.shape[-2:]), x16], 1)
        x = torch.cat([x, minus_image_median(x)], 1)
        if not self.takes_light:
            return x
        if level is None:
            raise ValueError(f"this {self.label} also takes the local light level of the image as captured")
        if level.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"light level on a {tuple(level.shape[-2:])} grid for features on {tuple(x.shape[-2:])}")
        return torch.cat([x, level.to(x.dtype)], 1)

    def head_input(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`inputs` -> the head's input: :meth:`_with_places`, each channel scaled."""
        return self._with_places(x) / self.scale.view(1, -1, 1, 1)

    def _with_places(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`inputs` with the projections' deviations from their mean at each position over good parts, in
        units of their spread there, appended (once fitted, and not in a head saved before format 12)."""
        if not self.position_centre.numel():
            return x
        self._check_grid(self.position_centre, x)
        k = len(self.position_centre)
        deviations = (x[:, :k] - self.position_centre) / self.position_spread
        return torch.cat([x[:, : 2 * k], deviations, x[:, 2 * k :]], 1)  # the light level, if any, stays last

    def raw(self, feats: Sequence[torch.Tensor], light: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, h, w) the head's logit from encoder target features (shallow first) and, if it
        :attr:`takes_light`, the (B, 3, H, W) images as captured."""
        level = None
        if self.takes_light:
            if light is None:
                raise ValueError(f"this {self.label} also takes the image as captured")
            level = local_light_level(light, feats[-1].shape[-2:], self.light_blurs)
        return self._logit(self.head_input(self.inputs(feats, level)))

    def _logit(self, x: torch.Tensor) -> torch.Tensor:
        """The head on scaled inputs (B, D, h, w), averaged over :attr:`views` mirror images of them (itself,
        left-right, upside down, both; each logit mirrored back): the head learnt from composites mirrored at
        random, so each mirror image is as valid an input, and their mean varies less than one of them."""
        flips = _MIRRORS[: int(self.views)]
        if len(flips) == 1:
            return self.head(x)
        out = self.head(torch.cat([x.flip(dims) if dims else x for dims in flips]))
        out = [o.flip(dims) if dims else o for o, dims in zip(out.split(len(x)), flips)]
        return torch.stack(out).mean(0)

    def _fit_places(self, projections: torch.Tensor) -> None:
        """Each projection's mean and floored spread at each place over good images' (N, k, h, w) projections."""
        self.position_centre = projections.mean(0)
        deviation = projections.std(0)
        self.position_spread = deviation + self.position_floor * deviation.mean((1, 2), keepdim=True).clamp_min(1e-6)

    def fit(
        self,
        good: torch.Tensor,
        swapped: torch.Tensor,
        masks: torch.Tensor,
        held: torch.Tensor,
        map_spread: float,
        seed: int = 0,
        weight: float | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Train the head. ``good``: :meth:`inputs` of good images (N, D, h, w), before scaling (see
        :meth:`fit_projections`; half precision is fine); ``swapped``, ``masks``: those of composites and the
        share of each of their cells that was swapped in (M, h, w); ``held``: good images kept out of it, which
        set the z-score; ``map_spread``: the standard deviation of the map's pixels over good images the network
        did not learn from. ``check`` is called between steps (it may raise to stop)."""
        if len(good) < self.min_images - 1 or len(held) < 1:
            raise ValueError(f"a foreign-region head needs at least {self.min_images} good images")
        if len(swapped) != len(masks):
            raise ValueError(f"{len(swapped)} composites but {len(masks)} masks")
        generator = torch.Generator().manual_seed(seed)
        k = (good.shape[1] - int(self.light_channels)) // 2
        self._fit_places(good[:, :k].float())
        if self.head[0].in_channels != 3 * k + int(self.light_channels):
            # uninitialised (the loop below initialises every layer from ``generator``): the global stream untouched
            self.head[0] = nn.utils.skip_init(nn.Conv2d, 3 * k + int(self.light_channels), self.width, 3, padding=1)
        rows = torch.cat([good, swapped])
        squares = [self._with_places(chunk.float()).pow(2).mean((0, 2, 3)) for chunk in rows.split(256)]
        self.scale = torch.stack(squares).mean(0).sqrt().clamp_min(1e-6)
        targets = torch.cat([torch.zeros(len(good), *masks.shape[1:]), masks.float()]).unsqueeze(1)
        for layer in self.head:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_uniform_(layer.weight, a=5**0.5, generator=generator)
                nn.init.zeros_(layer.bias)
        batch = min(self.batch_size, len(rows))
        steps_per_epoch = len(rows) // batch
        optim = torch.optim.AdamW(self.head.parameters(), lr=self.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=self.lr, total_steps=self.epochs * steps_per_epoch)
        self.head.train()
        with torch.enable_grad(), torch.inference_mode(False):
            for _ in range(self.epochs):
                order = torch.randperm(len(rows), generator=generator)
                for step in range(steps_per_epoch):
                    if check is not None:
                        check()
                    pick = order[step * batch : (step + 1) * batch]
                    x, y = self.head_input(rows[pick].float()), targets[pick]
                    flip = torch.rand(2, generator=generator) < 0.5
                    dims = [d for d, f in zip((3, 2), flip) if f]
                    if dims:
                        x, y = x.flip(dims), y.flip(dims)
                    loss = F.binary_cross_entropy_with_logits(self.head(x), y)
                    optim.zero_grad(set_to_none=True)
                    loss.backward()
                    optim.step()
                    sched.step()
        self.head.eval()
        self.views.fill_(len(_MIRRORS))
        self._scale_on(held, map_spread, self.default_weight if weight is None else weight)

    def rescale(self, held: torch.Tensor, map_spread: float, weight: float | None = None) -> None:
        """Set only the z-score and the map scale of a fitted head, from ``held`` (:meth:`inputs` of good images it
        did not learn from) and the map's spread: what a top-up refits when the head itself is kept (it reads the
        frozen encoder's features only, so a fine-tuned network leaves it valid). ``weight``: the head's as fitted
        unless given."""
        if not self.is_fitted:
            raise ValueError(f"this {self.label} is not fitted: nothing to rescale")
        self._scale_on(held, map_spread, float(self.norm[3]) if weight is None else weight)

    def _scale_on(self, held: torch.Tensor, map_spread: float, weight: float) -> None:
        with torch.no_grad():
            logits = torch.cat([self._logit(self.head_input(chunk.float())) for chunk in held.split(64)])
        self._set_scale(logits, map_spread, weight)
