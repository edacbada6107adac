"""The demo: half a year of supervision of the example programs, played on loopback."""
