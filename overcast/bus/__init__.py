"""AMQP messaging on aio-pika: call, cast, fanout and notify, in oslo.messaging's shape."""
from overcast.bus.bus import Bus, CallTimeout, ConnectionLost
from overcast.bus.rpc import RemoteError, RpcClient, RpcServer, rpc

__all__ = ["Bus", "CallTimeout", "ConnectionLost", "RemoteError", "RpcClient", "RpcServer", "rpc"]
