"""AMQP messaging on aio-pika: call, cast, fanout and notify, in oslo.messaging's shape."""
from overcast.bus.bus import Bus, CallTimeout, ConnectionLost
from overcast.bus.remote import RemoteError
from overcast.bus.rpc import RpcClient, RpcServer, rpc

__all__ = ["Bus", "CallTimeout", "ConnectionLost", "RemoteError", "RpcClient", "RpcServer", "rpc"]
