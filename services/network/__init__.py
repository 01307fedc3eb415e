"""The network service: a Neutron v2.0 subset (networks, subnets, ports, security groups) and IPAM.

It runs inside the ``api`` process: ``api.build_router`` serves REST under ``/network`` and
``service.NetworkEndpoint`` answers the AMQP contract in ``rpcapi.NetworkAPI`` (topic ``network``).
"""
