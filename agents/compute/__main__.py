from agents.compute.service import ComputeConfig, ComputeService
from overcast import config, service

service.run(ComputeService(config.load(ComputeConfig, "compute")))
