"""gRPC on grpc.aio: server bootstrap, client channels with deadlines, errors and context."""
from overcast.grpc.client import ErrorMappingInterceptor, channel, metadata_for
from overcast.grpc.server import GrpcServer

__all__ = ["ErrorMappingInterceptor", "GrpcServer", "channel", "metadata_for"]
