from overcast import config, service
from services.api.service import ApiConfig, ApiService

service.run(ApiService(config.load(ApiConfig, "api")))
