"""A VM's own window: the detail dialog (graphs, findings, health) and the set of them."""
