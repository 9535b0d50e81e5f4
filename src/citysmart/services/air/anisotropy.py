"""Anisotropic distance and the kriging plan that the tuned kriging follows.

A ``Geometry`` stretches the plane so that one direction counts as farther than the
other: over a plain bounded by mountains, fine dust changes faster across the mountain
front than along it, and a linear variogram of the stretched distance says so. The
stretch keeps areas (the long axis shrinks by sqrt(ratio), the short one grows by
1/sqrt(ratio)), so the isotropic geometry and a stretched one use comparable distances.

A ``KrigingPlan`` is a geometry and a few nuggets, chosen on a schedule from past hours
(``kriging_plan.choose_plan``) and then applied to each hour (``interpolation.fit_hour``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

AnyFloatArray = npt.NDArray[np.floating]


@dataclass(frozen=True)
class Geometry:
    """A stretch of the plane: ``ratio`` < 1 makes distances across ``angle_deg`` count more.

    ``angle_deg`` is the direction of the long axis (along which values stay alike),
    counter-clockwise from east, in [0, 180); ``ratio`` in (0, 1] is short axis / long axis.
    """

    angle_deg: float = 0.0
    ratio: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio}")

    @property
    def isotropic(self) -> bool:
        """Tell whether the geometry leaves distances unchanged."""
        return self.ratio == 1.0

    def matrix(self) -> npt.NDArray[np.float64]:
        """Return the 2 x 2 map from metres east/north to stretched metres (row vectors)."""
        angle = math.radians(self.angle_deg)
        cos, sin = math.cos(angle), math.sin(angle)
        root = math.sqrt(self.ratio)
        # Columns: the coordinate along the long axis (shrunk), across it (stretched).
        return np.array([[cos * root, -sin / root], [sin * root, cos / root]])

    def transform(self, xy: AnyFloatArray) -> AnyFloatArray:
        """Map (n, 2) positions in metres to stretched positions, keeping float32 as float32."""
        points = np.asarray(xy)
        if self.isotropic:
            return points
        dtype = points.dtype if points.dtype == np.float32 else np.float64
        stretched: AnyFloatArray = points.astype(dtype, copy=False) @ self.matrix().astype(dtype)
        return stretched


@dataclass(frozen=True)
class KrigingPlan:
    """How to krige each hour: a geometry and the nuggets (metres) whose predictions are averaged.

    The variogram is linear with slope 1 per stretched metre, so a nugget in metres says at
    which distance the spatial part equals the local noise. Kriging weights do not change
    when a variogram is scaled, so the slope itself does not matter.
    """

    geometry: Geometry
    nuggets_m: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.nuggets_m or any(not n >= 0 for n in self.nuggets_m):
            raise ValueError("a plan needs at least one nugget, none negative")
