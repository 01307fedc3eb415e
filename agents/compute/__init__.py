"""The compute agent: one per hypervisor host, running guests through a virt driver."""
