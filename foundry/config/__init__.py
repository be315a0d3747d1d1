"""The stack configuration: one pydantic model read from the `openfoundry:` namespace of a stack, split by plane.

    base.py        problems, the section model, value types
    platform.py    target, operators, images, topology, workload sizing, monitoring
    storage.py (backups.py) · ingestion.py · control.py · relational.py · compute.py · edge.py    each plane's settings
    stack.py       the root model, reading a stack's values, the cross-field rules in order

Defaults per environment live in foundry/defaults.py.
"""

from foundry.config.backups import SINGLE_SITE_RISK, Backups, Offsite
from foundry.config.base import (
    NAMESPACE,
    ConfigErrors,
    ConfigProblem,
    Environment,
    FailureDomain,
)
from foundry.config.compute import Compute, Trino
from foundry.config.control import Control, Nats
from foundry.config.edge import Cache, Edge
from foundry.config.ingestion import Ingestion, Kafka, OutboxRelay
from foundry.config.platform import Images, KubernetesTarget, Monitoring, Operators, Topology, Workloads
from foundry.config.relational import Cassandra, Postgres, RecoverFrom, Relational
from foundry.config.stack import StackConfig, cross_field_problems, load_stack_config, parse_raw_config
from foundry.config.storage import BlockPool, Ceph, Lakehouse, Maintenance, ObjectStore, Storage, Vespa

__all__ = [
    "NAMESPACE",
    "SINGLE_SITE_RISK",
    "Backups",
    "BlockPool",
    "Cache",
    "Cassandra",
    "Ceph",
    "Compute",
    "ConfigErrors",
    "ConfigProblem",
    "Control",
    "Edge",
    "Environment",
    "FailureDomain",
    "Images",
    "Ingestion",
    "Kafka",
    "KubernetesTarget",
    "Lakehouse",
    "Maintenance",
    "Monitoring",
    "Nats",
    "ObjectStore",
    "Offsite",
    "Offsite",
    "Operators",
    "OutboxRelay",
    "Postgres",
    "RecoverFrom",
    "Relational",
    "StackConfig",
    "Storage",
    "Topology",
    "Trino",
    "Vespa",
    "Workloads",
    "cross_field_problems",
    "load_stack_config",
    "parse_raw_config",
]
