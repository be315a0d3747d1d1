"""ADR-0012's SLOs (data/slos.yaml) and the PromQL that measures them.

Each SLO's objective is its p99 target: 99% of events under it, so the error budget is 1%. The SLI is
good/total from the layer's histogram: events in the bucket at the target over all events. Alerts follow the
multi-window, multi-burn-rate scheme of the SRE Workbook (ch. 5): page at 14.4x over 1h (5m confirm) and at 6x
over 6h (30m confirm), ticket at 1x over 3d (6h confirm).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from foundry import registry
from foundry.config import ConfigProblem

SLO_PATH = registry.DATA / "slos.yaml"
# Platform components whose PodMonitor carries their name, in their plane's namespace.
PLATFORM_EMITTERS = {"vespa": "storage", "nats": "control", "lakekeeper": "storage"}
EMITTER_GROUPS = ("@topic-owners", "@nats-subscribers")
OBJECTIVE = 0.99   # the p99 target is the load-bearing one
Seconds = Annotated[float, Field(gt=0)]
LabelValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$")]


class Slo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    layer: str
    plane: str
    histogram: Annotated[str, StringConstraints(pattern=r"^[a-z_:][a-z0-9_:]*$")]
    selector: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$")], LabelValue]
    p50: Seconds
    p99: Seconds
    p999: Seconds
    # who emits the histogram: catalog services, platform components (vespa), or every topic owner (@topic-owners)
    # or NATS subscriber (@nats-subscribers); the rules read only these emitters' PodMonitor jobs
    emitters: Annotated[list[Annotated[str, StringConstraints(pattern=r"^@?[a-z][a-z0-9-]*$")]], Field(min_length=1)]

    @property
    def record(self) -> str:
        return self.name.replace("-", "_")

    def matchers(self, jobs: Sequence[str] = (), **extra: str) -> str:
        labels = [f'{k}="{v}"' for k, v in {**self.selector, **extra}.items()]
        if jobs:
            labels.append('job=~"' + "|".join(sorted(jobs)) + '"')
        return "{" + ",".join(labels) + "}"

    def error_ratio(self, window: str, jobs: Sequence[str] = ()) -> str:
        """1 - good/total over `window`: the share of events slower than the p99 target."""
        good = f"sum(rate({self.histogram}_bucket{self.matchers(jobs, le=le_value(self.p99))}[{window}]))"
        total = f"sum(rate({self.histogram}_count{self.matchers(jobs)}[{window}]))"
        return f"1 - ({good} / {total})"

    def quantile(self, q: float, window: str = "5m", jobs: Sequence[str] = ()) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({self.histogram}_bucket{self.matchers(jobs)}[{window}])))"


class SloCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Annotated[str, StringConstraints(pattern=r"^[0-9]+d$")]
    slos: list[Slo]


@dataclass(frozen=True)
class BurnRateAlert:
    severity: str
    factor: float
    long: str
    short: str


# Windows a rule computes from the histograms; longer ones average the 5-minute ratio instead of re-reading days of
# raw samples on every evaluation.
RAW_WINDOWS = ("5m", "30m", "1h", "6h")
BURN_RATE_ALERTS = (
    BurnRateAlert("page", 14.4, "1h", "5m"),
    BurnRateAlert("page", 6.0, "6h", "30m"),
    BurnRateAlert("ticket", 1.0, "3d", "6h"),
)
WINDOWS = ("5m", "30m", "1h", "6h", "3d")


def le_value(seconds: float) -> str:
    """The `le` label as Prometheus client libraries write bucket bounds (shortest float form)."""
    return repr(float(seconds)).removesuffix(".0") if float(seconds).is_integer() else repr(float(seconds))


def slo_problems(slos: SloCatalog, services: set[str]) -> Iterator[ConfigProblem]:
    """An emitter the rules would read must exist: a catalog service, a platform component, or a group."""
    known = services | set(PLATFORM_EMITTERS) | set(EMITTER_GROUPS)
    for slo in slos.slos:
        for emitter in slo.emitters:
            if emitter not in known:
                yield ConfigProblem(f"data/slos.yaml: slos[{slo.name}].emitters", repr(emitter),
                                    "a catalog service, one of " + ", ".join(sorted({*PLATFORM_EMITTERS, *EMITTER_GROUPS})))


@cache
def load_slos(path: Path = SLO_PATH) -> SloCatalog:
    return registry.load(SloCatalog, path, "slos")
