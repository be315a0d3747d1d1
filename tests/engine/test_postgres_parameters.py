"""Every CloudNativePG Cluster's `postgresql.parameters`, as both stacks render them, taken by a real PostgreSQL of
the release the clusters run (ops/engine/postgres.py): each parameter parsed alone, then a server started with
all of them. A misspelt name, a bad value and a parameter the release removed are each refused by name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from foundry.outboxes import load_outboxes
from foundry.versions import POSTGRES_IMAGE
from ops.engine import postgres
from ops.judge import CLUSTERS, cluster_parameters, postgres_problems
from tests.engine.conftest import rendered

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.Server]:
    with postgres.server() as running:
        yield running


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_cluster_s_parameters_are_taken_by_the_release_it_runs(stack: str, server: postgres.Server) -> None:
    sets = cluster_parameters(rendered(stack))
    assert sets
    # prod's defaults size the memory (foundry/defaults.py); in both, an outbox's cluster sets logical decoding
    outboxes = {f"pg-{o.name}" for o in load_outboxes().outboxes}
    assert all(sets[c].get("wal_level") == "logical" for c in sets if c.rsplit("/", 1)[-1] in outboxes)
    assert any(p for c, p in sets.items() if c.rsplit("/", 1)[-1] not in outboxes) == (stack == "prod")
    for parameters in {tuple(sorted(p.items())) for p in sets.values()}:
        assert postgres.judge(dict(parameters), server) == []


def test_make_validate_names_the_cluster_and_the_parameter_postgres_refuses(tmp_path: Path) -> None:
    manifests = tmp_path / "1-manifest"
    manifests.mkdir()
    for path in (rendered("prod") / "1-manifest").glob(CLUSTERS):
        cluster = yaml.safe_load(path.read_text())
        if cluster["metadata"]["name"] == "pg-audit-sink":
            cluster["spec"]["postgresql"]["parameters"]["work_mem"] = "64MiB"   # Postgres's unit is MB
        (manifests / path.name).write_text(yaml.safe_dump(cluster))
    problems = postgres_problems(tmp_path)
    assert problems == ["Cluster openfoundry-ingestion/pg-audit-sink: postgresql.parameters.work_mem='64MiB': "
                        'invalid value for parameter "work_mem": "64MiB"']


def test_the_judge_is_the_release_the_clusters_run() -> None:
    """POSTGRES_IMAGE's tag names the release (`18.4-standard-trixie`); the binaries say theirs."""
    tag = POSTGRES_IMAGE.rsplit(":", 1)[1].split("-", 1)[0]
    printed = subprocess.run([str(postgres.postgres_home() / "bin" / "postgres"), "--version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert printed == f"postgres (PostgreSQL) {tag}"


@pytest.mark.parametrize(("parameters", "refused"), [
    ({"shared_buffers": "512MB", "effective_cach_size": "1536MB"},
     'effective_cach_size=\'1536MB\': unrecognized configuration parameter "effective_cach_size"'),
    ({"shared_buffers": "lots"}, 'shared_buffers=\'lots\': invalid value for parameter "shared_buffers": "lots"'),
    ({"old_snapshot_threshold": "60"},   # removed in PostgreSQL 17
     'old_snapshot_threshold=\'60\': unrecognized configuration parameter "old_snapshot_threshold"'),
])
def test_a_parameter_the_release_refuses_is_named(parameters: dict[str, str], refused: str,
                                                  server: postgres.Server) -> None:
    assert postgres.judge(parameters, server) == [refused]


def test_an_extension_s_parameter_is_judged_with_its_library_loaded(server: postgres.Server) -> None:
    assert postgres.judge({"pg_stat_statements.max": "5000"}, server) == []
    assert postgres.judge({"pg_stat_statements.max": "several", "pg_stat_statements.trak": "all"}, server) == [
        'the server ignores it: invalid value for parameter "pg_stat_statements.max": "several"',
        'the server ignores it: invalid configuration parameter name "pg_stat_statements.trak", removing it']
    assert postgres.judge({"nosuchextension.knob": "1"}, server) == [
        f"nosuchextension.knob: not judged, no library 'nosuchextension' in PostgreSQL "
        f"{postgres.POSTGRES_BINARIES_VERSION}"]
