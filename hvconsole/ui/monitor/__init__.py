"""The monitoring page: the Monitor (rows into Qt models per tick), the polling service,
the tile grid (model, filter, view, delegate, paint cache, sparkline)."""
