"""Hosts: the host list and its model, the host graphs and the stored history they read,
the add/edit/remove host dialogs and the per-host poll interval."""
