"""The benchmark's floor: N plain ConfigMaps through the same engine and render-mode provider."""

import sys
from pathlib import Path

import pulumi

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ops.measure.floor.configmaps import register_floor

config = pulumi.Config("floor")
register_floor(config.require_int("count"), config.require("renderDirectory"))
