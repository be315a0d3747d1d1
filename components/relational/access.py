"""How a database's owner (and the SQL gateway's read route) reach it: the egress rule, the environment its
binaries read, the cluster's CA."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.common.endpoints import PlatformEndpoint
from components.common.kube import peer, secret_env
from components.relational.database import POSTGRES_PORT, Database


def database_egress(db: Database) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """The owner's way to its database: the pooler when there is one, else the instances."""
    target = {"cnpg.io/poolerName": db.pooler} if db.pooled else {"cnpg.io/cluster": db.cluster}
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[peer(pods=target)],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")],
    )


CA_DIRECTORY = "/etc/openfoundry/postgres"


def database_env(db: Database) -> list[k8s.core.v1.EnvVarArgs]:
    """How the owner connects: its cluster's `-app` Secret and the read-write service (or its pooler), verifying
    the server's certificate and name against the cluster's CA."""
    secret = f"{db.cluster}-app"
    return [
        k8s.core.v1.EnvVarArgs(name="PGHOST", value=db.host),
        k8s.core.v1.EnvVarArgs(name="PGPORT", value=str(POSTGRES_PORT)),
        k8s.core.v1.EnvVarArgs(name="PGDATABASE", value=db.name),
        k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value="verify-full"),
        k8s.core.v1.EnvVarArgs(name="PGSSLROOTCERT", value=f"{CA_DIRECTORY}/ca.crt"),
        secret_env("PGUSER", secret, "username"),
        secret_env("PGPASSWORD", secret, "password"),
        # what OpenFoundry's binaries read (infra/helm/docs/DATABASE_URL.md), composed from the variables above
        k8s.core.v1.EnvVarArgs(name="DATABASE_URL", value=(
            "postgres://$(PGUSER):$(PGPASSWORD)@$(PGHOST):$(PGPORT)/$(PGDATABASE)"
            f"?sslmode=verify-full&sslrootcert={CA_DIRECTORY}/ca.crt")),
    ]


def database_ca_volume(db: Database) -> k8s.core.v1.VolumeArgs:
    """The cluster's CA certificate, and only it: the same Secret holds the CA's key, which signs client certificates."""
    return k8s.core.v1.VolumeArgs(name="postgres-ca", secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=f"{db.cluster}-ca", items=[k8s.core.v1.KeyToPathArgs(key="ca.crt", path="ca.crt")]))


def database_ca_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name="postgres-ca", mount_path=CA_DIRECTORY, read_only=True)


def sql_reader_endpoint(db: Database) -> PlatformEndpoint:
    """The reading service's way to a sqlReadable database: its replicas, as the read-only role."""
    variable = f"SQL_BACKEND_POSTGRES_{db.owner.upper().replace('-', '_')}"
    return PlatformEndpoint(namespace=db.namespace, pods=(("cnpg.io/cluster", db.cluster),), ports=(POSTGRES_PORT,),
                            env=(), secret=db.reader_secret,
                            secret_env=((f"{variable}_USER", "username"), (f"{variable}_PASSWORD", "password")))
