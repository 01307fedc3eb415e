import os

# The agent starts guests and console sessions as child processes while gRPC's threads run.
# gRPC's fork handlers, run in the child between fork and exec, can abort it ("Check failed:
# next_worker->state == KICKED"), and no child here uses gRPC: switch them off before gRPC
# is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

from agents.compute.service import ComputeConfig, ComputeService
from overcast import config, service

service.run(ComputeService(config.load(ComputeConfig, "compute")))
