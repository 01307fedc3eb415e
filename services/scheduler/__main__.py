from overcast import config, service
from services.scheduler.service import SchedulerConfig, SchedulerService

service.run(SchedulerService(config.load(SchedulerConfig, "scheduler")))
