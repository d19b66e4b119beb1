"""The patch workflow's data: plan, journal, step decisions, report. No I/O beyond the
journal's SQLite file; the engine that talks to hosts lives outside core."""
