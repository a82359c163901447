"""The cluster supervisor: start the bundled cluster, control its processes, tear it down."""

from pigeon_lab.cluster.info import ClusterInfo, ProcessInfo
from pigeon_lab.cluster.spec import BackendOptions, ClusterSpec
from pigeon_lab.cluster.status import ProcessStatus
from pigeon_lab.cluster.supervisor import Cluster

__all__ = [
    "BackendOptions",
    "Cluster",
    "ClusterInfo",
    "ClusterSpec",
    "ProcessInfo",
    "ProcessStatus",
]
