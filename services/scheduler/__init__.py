"""The scheduler: host inventories and allocations (placement), filters and weighers."""
