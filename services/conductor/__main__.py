from overcast import config, service
from services.conductor.service import ConductorConfig, ConductorService

service.run(ConductorService(config.load(ConductorConfig, "conductor")))
