"""The image service: image records and bytes behind gRPC, and its Glance v2 REST router."""
